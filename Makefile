# Integration Portal: `make run` sets everything up and starts the portal;
# `make test` installs what the tests need and runs them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgres://postgres@127.0.0.1:5432/portal
export PLAYWRIGHT_BROWSERS_PATH := 0
# The browser tests drive this Chromium (Debian's package); tests/plugins/browser.py reads CHROMIUM_PATH.
CHROMIUM ?= $(or $(CHROMIUM_PATH),/usr/bin/chromium)
export CHROMIUM_PATH := $(CHROMIUM)
# Locks every package with pip-tools; `make lock LOCK_ARGS=--upgrade` (or --upgrade-package NAME) moves pins.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: install lock system-deps run dev test test-fast test-postgres lint format bench screenshots clean

# requirements-dev.txt pins everything the virtualenv holds (runtime and tools); pip-sync
# then removes what the lock no longer lists. A changed lock reinstalls.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip-sync --quiet requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Regenerate the locks from requirements.in and requirements-dev.in (runtime first: it constrains the dev lock).
lock: install
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

# System packages the tests need: Debian's chromium for the browser tests. Installed with
# apt-get when this user may (root, or passwordless sudo); otherwise stop and say what to do.
system-deps:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM): run \`sudo apt-get install chromium\` (Debian/Ubuntu), or \`make test-fast\` to skip them." >&2; \
		exit 1; \
	fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "The browser tests need Chromium at $(CHROMIUM) and this machine has no apt-get: install Chromium there (or set CHROMIUM=/path/to/chromium), or run \`make test-fast\` to skip them." >&2; \
		exit 1; \
	fi; \
	echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
		&& $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| { echo "Installing Chromium failed (see above): run \`sudo apt-get install chromium\`, or \`make test-fast\` to skip the browser tests." >&2; exit 1; }; \
	if [ ! -x "$(CHROMIUM)" ]; then \
		echo "Chromium is installed but not at $(CHROMIUM): set CHROMIUM=/path/to/chromium, or run \`make test-fast\` to skip the browser tests." >&2; \
		exit 1; \
	fi

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

# ruff, then the architecture contracts in pyproject.toml (import-linter).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The whole suite under coverage.py (settings in pyproject.toml), then the total.
# `.venv/bin/coverage report` (or `coverage html`) afterwards shows it per file.
test: install lint system-deps
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	@echo "Coverage of portal, integrations and connections: $$($(BIN)/coverage report --format=total)%"

# Everything but the browser and end-to-end tests (no Chromium, no qcluster, no runportal),
# spread over the CPUs by pytest-xdist (PYTEST_ARGS=-n0 runs it in one process).
test-fast: install lint
	$(BIN)/python -m pytest -m "not browser and not e2e" -n auto $(PYTEST_ARGS)

# The same suite on PostgreSQL (local server, trust auth). The portal database is
# created here when missing; Django creates and drops test_portal itself.
test-postgres: install system-deps
	@psql "$(dir $(PG_URL))postgres" -tAc "SELECT 1 FROM pg_database WHERE datname='portal'" | grep -q 1 \
		|| psql "$(dir $(PG_URL))postgres" -c "CREATE DATABASE portal"
	DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

screenshots: install system-deps
	$(BIN)/python -m pytest tests/browser/test_screenshots.py -p no:cacheprovider --screenshots

clean:
	rm -rf $(VENV) staticfiles var/*.sqlite3* .coverage .coverage.* htmlcov
