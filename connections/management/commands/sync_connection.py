"""Run a connection's pulls in the foreground, for support and operations.

Uses the same `pulls.sync()` as the workers. A pull already queued for a data type is
taken over (its task, when a worker gets it, finds the pull claimed and does nothing).
"""

import json
import sys
import time
import uuid

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ...models import Connection, PullOperation
from ...sync.pulls import sync
from ...sync.queueing import active_pull, queue_pull, refresh_refusal

COLUMNS = ("status", "fetched", "created", "updated", "unchanged", "deleted", "seconds")


class Command(BaseCommand):
    help = (
        "Run pulls of one connection now, in the foreground, with a progress bar; ends with a table "
        "per data type. Exit status 1 when any pull did not complete."
    )

    def add_arguments(self, parser):
        parser.add_argument("connection_id", help="the connection's id (a UUID, as in its page's address)")
        parser.add_argument(
            "--data-type",
            action="append",
            dest="data_types",
            default=[],
            metavar="T",
            help="only this data type (repeatable); default: all of the integration's data types",
        )
        parser.add_argument("--full", action="store_true", help="read everything, not only what changed")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object last")

    def handle(self, *args, connection_id, data_types, full, **options):
        connection = self._connection(connection_id)
        provider = connection.integration.provider
        known = [dt.name for dt in provider.data_types]
        unknown = [name for name in data_types if name not in known]
        if unknown:
            raise CommandError(
                f"{provider.name} has no data type called {', '.join(unknown)}. Known: {', '.join(known)}."
            )
        refusal = refresh_refusal(connection)
        if refusal:
            raise CommandError(refusal)
        summary = {name: self._run(connection, name, full) for name in (data_types or known)}
        self._table(summary)
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        failed = [name for name, row in summary.items() if row["status"] != PullOperation.Status.COMPLETE]
        if failed:
            raise CommandError(f"Did not complete: {', '.join(failed)}.", returncode=1)

    def _connection(self, connection_id):
        try:
            key = uuid.UUID(connection_id)
        except ValueError:
            raise CommandError(f"“{connection_id}” is not a connection id (ids look like 7c9e6679-…).") from None
        connection = Connection.objects.select_related("integration", "company").filter(pk=key).first()
        if connection is None:
            raise CommandError(f"No connection has the id {connection_id}.")
        return connection

    def _run(self, connection, data_type, full):
        pull = active_pull(connection, data_type)
        if pull is not None and pull.status != PullOperation.Status.QUEUED:
            row = self._row(pull, None)
            row["error"] = f"pull {pull.pk} is already {pull.status} on a worker; it was left to finish there."
            return row
        if pull is None:
            pull, _ = queue_pull(connection, data_type, PullOperation.Trigger.MANUAL, full=full, enqueue=False)
        elif full:
            PullOperation.objects.filter(pk=pull.pk, status=PullOperation.Status.QUEUED).update(
                mode=PullOperation.Mode.FULL
            )
            pull.mode = PullOperation.Mode.FULL
        stderr = getattr(self.stderr, "_out", sys.stderr)
        started = time.monotonic()
        with tqdm(desc=data_type, unit=" records", file=stderr, leave=True, dynamic_ncols=True) as bar:

            def on_page(running):
                if bar.total is None and running.expected_records:
                    bar.total = running.expected_records
                bar.update(running.records_fetched - bar.n)

            pull = sync(pull, on_page=on_page)
        return self._row(pull, time.monotonic() - started)

    def _row(self, pull, seconds):
        return {
            "pull": pull.pk,
            "status": pull.status,
            "fetched": pull.records_fetched,
            "created": pull.records_created,
            "updated": pull.records_updated,
            "unchanged": pull.records_unchanged,
            "deleted": pull.records_deleted,
            "seconds": round(seconds, 2) if seconds is not None else None,
            "error": pull.error_message,
        }

    def _table(self, summary):
        width = max(len("data type"), *(len(name) for name in summary))
        self.stdout.write(f"{'data type':<{width}}  {'status':<14}" + "".join(f"{c:>10}" for c in COLUMNS[1:]))
        for name, row in summary.items():
            seconds = "" if row["seconds"] is None else f"{row['seconds']:.2f}"
            numbers = "".join(f"{row[c]:>10}" for c in COLUMNS[1:-1])
            self.stdout.write(f"{name:<{width}}  {row['status']:<14}{numbers}{seconds:>10}")
        for name, row in summary.items():
            if row["error"]:
                self.stdout.write(f"{name}: {row['error']}")
