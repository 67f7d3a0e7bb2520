"""`manage.py sync_connection`: foreground pulls with a progress bar, a table, JSON and an exit status."""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from connections.credentials import store_credentials
from connections.models import PullOperation, Record
from connections.sync.queueing import queue_pull
from tests import factory

ROOT = Path(__file__).resolve().parents[2]
P = PullOperation.Status
SPEC = {"customers": 6, "suppliers": 3, "both": 1, "invoices": 40, "bills": 9, "projects": 2, "anchor": "2025-06-01"}


@pytest.fixture
def connection(clearbooks, sandbox):
    connection = factory.make_connection()
    connection.key = sandbox.make_key(seed="command", **SPEC)
    store_credentials(connection, {"api_key": connection.key}, validated_by="link")
    return connection


def sync_connection(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("sync_connection", *map(str, args), stdout=out, stderr=err)
        code = 0
    except CommandError as error:
        code = error.returncode
        err.write(str(error))
    return code, out.getvalue(), err.getvalue()


def test_it_runs_every_data_type_and_prints_a_table_and_json(connection, sandbox):
    code, out, err = sync_connection(connection.pk, "--json")

    assert code == 0, out + err
    summary = json.loads(out.strip().splitlines()[-1])
    books = sandbox.counts(connection.key)
    for data_type in connection.integration.provider.data_types:
        row = summary[data_type.name]
        assert row["status"] == "Complete"
        assert row["fetched"] == row["created"] == books[data_type.name]
        assert row["updated"] == row["unchanged"] == row["deleted"] == 0
        assert row["seconds"] >= 0
    header = out.splitlines()[0].split()
    assert header == ["data", "type", "status", "fetched", "created", "updated", "unchanged", "deleted", "seconds"]
    assert any(line.split()[:4] == ["invoices", "Complete", "40", "40"] for line in out.splitlines())
    assert "invoices" in err and "records" in err  # the progress bar, on stderr
    assert connection.key not in out + err


def test_it_runs_only_the_chosen_data_types_and_full_marks_deletions(connection, sandbox):
    sync_connection(connection.pk, "--data-type", "customers", "--data-type", "bills")
    assert set(Record.objects.values_list("data_type", flat=True)) == {"customers", "bills"}
    sandbox.delete(connection.key, "customers", 2)

    code, out, _ = sync_connection(connection.pk, "--data-type", "customers", "--full", "--json")

    row = json.loads(out.splitlines()[-1])["customers"]
    assert code == 0
    assert (row["fetched"], row["unchanged"], row["deleted"]) == (4, 4, 2)


def test_it_takes_over_a_pull_already_queued(connection):
    queued, _ = queue_pull(connection, "paymentMethods", PullOperation.Trigger.SCHEDULE, enqueue=False)

    code, out, _ = sync_connection(connection.pk, "--data-type", "paymentMethods", "--full", "--json")

    assert code == 0
    assert json.loads(out.splitlines()[-1])["paymentMethods"]["pull"] == queued.pk
    queued.refresh_from_db()
    assert queued.status == P.COMPLETE and queued.mode == PullOperation.Mode.FULL
    assert PullOperation.objects.count() == 1


def test_it_leaves_a_pull_running_on_a_worker_and_exits_non_zero(connection):
    running = factory.make_pull(connection, "bills", status=P.FETCHING)
    code, out, err = sync_connection(connection.pk, "--data-type", "bills", "--json")
    assert code == 1
    assert json.loads(out.splitlines()[-1])["bills"]["status"] == "Fetching"
    assert f"pull {running.pk} is already Fetching" in out
    assert "Did not complete: bills." in err


def test_it_exits_non_zero_when_a_pull_fails(connection, sandbox, settings):
    settings.CLEARBOOKS_RETRY_ATTEMPTS = 2
    settings.CLEARBOOKS_RETRY_BASE_DELAY = 0.01
    sandbox.fail_next("http500", count=10, key=connection.key, operation="listEntities")

    code, out, _ = sync_connection(connection.pk, "--data-type", "customers", "--data-type", "paymentMethods", "--json")

    summary = json.loads(out.splitlines()[-1])
    assert code == 1
    assert summary["customers"]["status"] == "FetchError"
    assert summary["paymentMethods"]["status"] == "Complete"
    assert "customers: " in out  # the sentence under the table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-a-uuid"], "is not a connection id"),
        (["7c9e6679-7425-40de-944b-e07fc1f90ae7"], "No connection has the id"),
    ],
)
def test_it_explains_a_wrong_connection_id(db, args, message):
    assert message in sync_connection(*args)[2]


def test_it_refuses_unknown_data_types_and_unlinked_connections(connection):
    code, _, err = sync_connection(connection.pk, "--data-type", "journals")
    assert code == 1 and "has no data type called journals" in err
    connection.status = "Deauthorized"
    connection.save()
    code, _, err = sync_connection(connection.pk)
    assert code == 1 and "must link it again" in err
    assert not PullOperation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_runs_as_a_process_with_the_json_summary_last_and_exit_status(clearbooks, sandbox):
    from tests.plugins.worker import worker_env

    key = sandbox.make_key(seed="command-process", **SPEC)
    connection = factory.make_connection(integration=factory.get_integration("jhch", enabled=True))
    store_credentials(connection, {"api_key": key}, validated_by="link")
    command = [sys.executable, "manage.py", "sync_connection", str(connection.pk), "--data-type", "invoices", "--json"]

    done = subprocess.run(command, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["invoices"]["created"] == 40
    sandbox.fail_next("http500", count=100, key=key)
    failing = subprocess.run(
        command, cwd=ROOT, env=worker_env(CLEARBOOKS_RETRY_ATTEMPTS=1), capture_output=True, text=True, timeout=60
    )
    assert failing.returncode == 1
    assert json.loads(failing.stdout.strip().splitlines()[-1])["invoices"]["status"] == "FetchError"
    assert key not in done.stdout + done.stderr + failing.stdout + failing.stderr
