# Integration Portal: `make run` sets everything up and starts the portal;
# `make test` installs what the tests need and runs them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgres://postgres@127.0.0.1:5432/portal
export PLAYWRIGHT_BROWSERS_PATH := 0

.PHONY: install run dev test test-postgres lint format bench screenshots clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# A local .env with a fresh SECRET_KEY and credential key; never overwritten.
.env: | $(STAMP)
	$(BIN)/python -m portal.make_env > .env
	@echo "Wrote .env (local settings; see .env.example)"

run: install .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py runportal

dev: install .env
	$(BIN)/python manage.py migrate --noinput
	DEBUG=true HTTPS=false $(BIN)/python manage.py runserver 127.0.0.1:8000

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The same suite on PostgreSQL (local server, trust auth). The portal database is
# created here when missing; Django creates and drops test_portal itself.
test-postgres: install
	@psql "$(dir $(PG_URL))postgres" -tAc "SELECT 1 FROM pg_database WHERE datname='portal'" | grep -q 1 \
		|| psql "$(dir $(PG_URL))postgres" -c "CREATE DATABASE portal"
	DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

screenshots: install
	$(BIN)/python -m pytest tests/browser/test_screenshots.py -p no:cacheprovider --screenshots

clean:
	rm -rf $(VENV) staticfiles var/*.sqlite3*
