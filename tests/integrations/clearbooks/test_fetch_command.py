"""`manage.py clearbooks_fetch` against the sandbox over HTTP.

Keys are secrets even here: never print them or put them in test ids.
"""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from integrations.clearbooks.reads import SUPPORTED_DATA_TYPES

ROOT = Path(__file__).resolve().parents[3]
SMALL = {"seed": "fetch", "customers": 6, "suppliers": 4, "both": 1, "invoices": 105, "bills": 7, "projects": 3}


@pytest.fixture
def fast_retries(settings):
    settings.CLEARBOOKS_RETRY_ATTEMPTS = 2
    settings.CLEARBOOKS_RETRY_BASE_DELAY = 0.01
    settings.CLEARBOOKS_RETRY_MAX_DELAY = 0.02


def key_file(tmp_path, key):
    path = tmp_path / "key.txt"
    path.write_text(key + "\n")
    return str(path)


def fetch(*args):
    out, err = StringIO(), StringIO()
    call_command("clearbooks_fetch", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_prints_a_table_of_counts_for_every_data_type(sandbox, clearbooks, tmp_path, fast_retries):
    key = sandbox.make_key(**SMALL)

    out, err = fetch("--api-key-file", key_file(tmp_path, key))

    counts = sandbox.counts(key)
    lines = out.splitlines()
    assert lines[0].startswith("Clear Books accepted the API key.")
    assert lines[1].split() == ["Data", "type", "Records"]
    rows = {line.split()[0]: line.split()[1] for line in lines[2:]}
    assert rows == {
        **{t: str(counts[t]) for t in SUPPORTED_DATA_TYPES},
        "Total": str(sum(counts[t] for t in SUPPORTED_DATA_TYPES)),
    }
    assert key not in out + err


def test_it_prints_json_lines_with_a_summary(sandbox, clearbooks, tmp_path, fast_retries):
    key = sandbox.make_key(**SMALL)

    out, _ = fetch(
        "--api-key-file", key_file(tmp_path, key), "--data-type", "invoices", "--data-type", "customers", "--json"
    )

    lines = [json.loads(line) for line in out.splitlines()]
    records, summary = lines[:-1], lines[-1]
    assert summary == {"summary": {"invoices": 105, "customers": 6}}
    assert [r["dataType"] for r in records] == ["invoices"] * 105 + ["customers"] * 6
    invoice = records[0]["record"]
    assert set(invoice) >= {
        "id",
        "number",
        "issued_on",
        "due_on",
        "total",
        "balance",
        "currency",
        "status",
        "attributes",
    }
    assert invoice["number"].startswith("INV") and invoice["currency"]
    assert invoice["attributes"]["invoice_id"] == invoice["id"] and invoice["attributes"]["items"]
    assert key not in out


def test_it_reads_changed_customers_with_modified_since(sandbox, clearbooks, tmp_path, fast_retries):
    from datetime import UTC, datetime, timedelta

    key = sandbox.make_key(seed="fetch-since", customers=12, suppliers=0, both=0, anchor="2024-01-01")
    sandbox.touch(key, "customers", 2)
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

    out, _ = fetch(
        "--api-key-file", key_file(tmp_path, key), "--data-type", "customers", "--modified-since", since, "--json"
    )

    assert json.loads(out.splitlines()[-1]) == {"summary": {"customers": 2}}


def test_it_uses_the_wsdl_url_given(sandbox, clearbooks, tmp_path, fast_retries, settings):
    settings.CLEARBOOKS_WSDL_URL = "http://127.0.0.1:9/nowhere/"  # would fail if used
    key = sandbox.make_key(**SMALL)

    out, _ = fetch(
        "--api-key-file", key_file(tmp_path, key), "--wsdl-url", sandbox.wsdl_url, "--data-type", "bankAccounts"
    )

    assert sandbox.wsdl_url in out.splitlines()[0]
    assert out.splitlines()[-2].split() == ["bankAccounts", "3"]


def test_it_refuses_a_rejected_key_without_printing_it(sandbox, clearbooks, tmp_path, fast_retries):
    key = sandbox.make_key(seed="fetch", revoked=True)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as info:
        call_command("clearbooks_fetch", "--api-key-file", key_file(tmp_path, key), stdout=out, stderr=err, verbosity=2)

    assert info.value.returncode == 3
    assert "rejected this API key" in err.getvalue() and "Login Failed" in err.getvalue()
    assert out.getvalue() == ""
    assert key not in f"{info.value} {err.getvalue()}"


def test_it_reports_a_data_type_that_fails_and_the_rest(sandbox, clearbooks, tmp_path, fast_retries):
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next("malformed", count=1, key=key, operation="listProjects")
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as info:
        call_command(
            "clearbooks_fetch",
            "--api-key-file",
            key_file(tmp_path, key),
            "--data-type",
            "trackingCategories",
            "--data-type",
            "paymentMethods",
            stdout=out,
            stderr=err,
        )

    assert info.value.returncode == 5
    assert "trackingCategories: Clear Books sent an answer we couldn't read." in err.getvalue()
    rows = [line.split() for line in out.getvalue().splitlines()[-3:]]
    assert rows == [["trackingCategories", "failed"], ["paymentMethods", "5"], ["Total", "5"]]


def test_it_refuses_unknown_data_types_and_bad_input(sandbox, clearbooks, tmp_path):
    key = key_file(tmp_path, sandbox.make_key(**SMALL))
    with pytest.raises(CommandError, match="Clear Books has no journals to read"):
        fetch("--api-key-file", key, "--data-type", "journals")
    with pytest.raises(CommandError, match="ISO date or time"):
        fetch("--api-key-file", key, "--modified-since", "last tuesday")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(CommandError, match="empty"):
        fetch("--api-key-file", str(empty))
    with pytest.raises(CommandError, match="Can't read the API key file"):
        fetch("--api-key-file", str(tmp_path / "missing.txt"))


def test_it_exits_non_zero_with_the_sentence_when_nothing_listens(tmp_path, sandbox):
    """A real process: the exit code and stderr as an operator sees them."""
    key = sandbox.make_key(**SMALL)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        # An empty database: the command falls back to the provider's default settings.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "CLEARBOOKS_WSDL_URL": "",
    }
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "clearbooks_fetch",
            "--api-key-file",
            "-",
            "--wsdl-url",
            "http://127.0.0.1:9/api/accounting/wsdl/",
        ],
        input=key,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )

    assert result.returncode == 4
    assert "We couldn't reach Clear Books" in result.stderr
    assert key not in result.stdout + result.stderr
