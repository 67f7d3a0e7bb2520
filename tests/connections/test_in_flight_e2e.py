"""End to end (issue #13): what the connection page says while work is in flight, with a real
`qcluster` running pulls against the sandbox over HTTP: a pull retrying a Clear Books that does not
answer, a pull whose worker was killed (not moving, then failed by the watchdog and retried), and
pulls that no worker picks up. Also measures how long the watchdog takes to notice a dead worker.

The page is rendered by this process from what the worker commits (transactional database); every
wait is a poll with a deadline, never a fixed sleep.
"""

import html
import re
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from connections.credentials import store_credentials
from connections.models import PullOperation
from connections.sync.queueing import queue_pull
from integrations.models import Integration, SyncSetting
from tests import factory
from tests.plugins.worker import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

P = PullOperation.Status
ENDED = {P.COMPLETE, P.FETCH_ERROR, P.AUTH_ERROR, P.INTERNAL_ERROR, P.NOT_SUPPORTED, P.CANCELLED, P.RATE_LIMIT_ERROR}
GOOD = "Nothing is wrong"
TIME = r"\d\d:\d\d:\d\d"


def linked(sandbox, seed, **spec):
    key = sandbox.make_key(seed=seed, customers=3, suppliers=2, both=1, bills=4, projects=2, **spec)
    connection = factory.make_connection(integration=factory.get_integration("jhch", enabled=True))
    store_credentials(connection, {"api_key": key}, validated_by="link")
    return connection, key


def everything_read_but(connection, *data_types):
    """Every other data type read successfully a minute ago, so the page would say "Nothing is wrong"."""
    at = timezone.now() - timedelta(minutes=1)
    for setting in SyncSetting.objects.filter(integration=connection.integration).exclude(data_type__in=data_types):
        pull = factory.make_pull(connection, setting.data_type, P.COMPLETE, started_at=at, finished_at=at)
        factory.make_data_status(
            connection,
            setting.data_type,
            current_status=P.COMPLETE,
            latest_pull=pull,
            latest_successful_pull=pull,
            last_successful_sync_at=at,
            last_successful_started_at=at,
        )


def diagnosis_of(client, connection) -> str:
    """The diagnosis section of the connection page, as text (tags dropped, spaces collapsed)."""
    page = client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    section = page.split('aria-label="Diagnosis">', 1)[1].split("</section>", 1)[0]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))).strip()


def page_says(client, connection, pattern):
    """The diagnosis text once it matches `pattern`; else None (for wait_for)."""
    text = diagnosis_of(client, connection)
    return text if re.search(pattern, text) else None


def ended(pull):
    fresh = PullOperation.objects.get(pk=pull.pk)
    return fresh if fresh.status in ENDED else None


def test_a_pull_retrying_a_clear_books_that_does_not_answer_says_retrying(
    clearbooks, sandbox, start_worker, support_client
):
    connection, key = linked(sandbox, "e2e-retrying", invoices=40)
    everything_read_but(connection)  # invoices too: a refresh of them retries
    Integration.objects.filter(pk=clearbooks.pk).update(settings={"timeout": 2})  # a request waits 2 s at most
    # listCurrencies, then the first page of invoices does not answer twice (timed out), then answers.
    sandbox.fail_next("slow", count=2, key=key, operation="listInvoices", delay_ms=6000)
    worker = start_worker(CLEARBOOKS_RETRY_BASE_DELAY=3, CLEARBOOKS_RETRY_MAX_DELAY=6, CLEARBOOKS_RETRY_ATTEMPTS=5)
    assert diagnosis_of(support_client, connection).startswith(GOOD)

    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True)
    text = wait_for(
        lambda: page_says(support_client, connection, r"Retrying invoices"),
        timeout=45,
        interval=0.3,
        message="the page to say Retrying",
        worker=worker,
    )

    assert re.search(
        rf"Retrying invoices: attempt [23] of 5, (next try at {TIME}|trying now) — "
        r"We couldn't reach Clear Books \(timed out\) — nothing to do yet: "
        rf"pull {pull.pk} tries again by itself",
        text,
    ), text
    assert GOOD not in text
    retrying = PullOperation.objects.get(pk=pull.pk)
    assert retrying.status == P.FETCHING and retrying.retry_attempts == 5

    done = wait_for(lambda: ended(pull), timeout=60, message="the pull to complete", worker=worker)
    assert done.status == P.COMPLETE, (done.error_message, done.error_detail)
    assert done.records_created == 40
    assert (done.retry_attempt, done.retry_at, done.retry_reason) == (None, None, "")
    assert diagnosis_of(support_client, connection).startswith(GOOD)


def test_a_killed_worker_is_said_not_moving_then_noticed_in_about_a_minute_and_retried(
    clearbooks, sandbox, start_worker, support_client, settings
):
    """Real defaults (heartbeat 10 s, silent for 60 s), the real schedules run by a second cluster."""
    settings.SYNC_HEARTBEAT_SECONDS, settings.SYNC_STALE_SECONDS = 10, 60  # as this process renders the page
    beats = {"SYNC_HEARTBEAT_SECONDS": 10, "SYNC_STALE_SECONDS": 60, "Q_WORKERS": 1}
    connection, _ = linked(sandbox, "e2e-dead-worker", invoices=2400)
    everything_read_but(connection, "invoices")
    sandbox.configure(latency_ms=150, page_sizes={"listInvoices": 20})  # about 20 s of pages
    call_command("schedule_syncs", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = start_worker(**beats)
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True)
    wait_for(
        lambda: PullOperation.objects.filter(pk=pull.pk, pages_fetched__gte=3).exists(),
        timeout=60,
        message="the pull under way",
        worker=first,
    )

    first.kill()
    killed_at, killed_clock = timezone.now(), time.monotonic()
    last_beat = PullOperation.objects.get(pk=pull.pk).heartbeat_at
    second = start_worker(**beats)  # its scheduler runs the watchdog (twice a minute)

    # Not moving: said within three missed heartbeats, with when the watchdog will act.
    text = wait_for(
        lambda: page_says(support_client, connection, r"Invoices: no progress for"),
        timeout=60,
        interval=0.5,
        message="the page to say the pull is not moving",
        worker=second,
    )
    said_at = timezone.now()
    stalled = re.search(
        rf"Invoices: no progress for (\d+) s on pull {pull.pk}; "
        rf"(it will be failed and queued again at ({TIME})|the watchdog is about to fail it and queue it again)",
        text,
    )
    assert stalled, text
    assert GOOD not in text
    assert (said_at - last_beat).total_seconds() < 45  # three beats of 10 s, and the page's poll

    # The watchdog fails it and queues it again: measured from the kill.
    failed = wait_for(lambda: ended(pull), timeout=150, interval=0.5, message="the watchdog", worker=second)
    detection = time.monotonic() - killed_clock
    print(
        f"\ndead worker noticed {detection:.0f} s after the kill, "
        f"{(failed.finished_at - last_beat).total_seconds():.0f} s after its last heartbeat"
    )
    assert failed.status == P.INTERNAL_ERROR
    assert failed.error_message.startswith("The worker stopped while reading invoices")
    assert detection < 110, f"the watchdog took {detection:.0f} s"
    if stalled.group(3):  # the time the page gave is when it happened, give or take the scheduler's half minute
        hour, minute, second_ = map(int, stalled.group(3).split(":"))
        promised = timezone.localtime(killed_at).replace(hour=hour, minute=minute, second=second_, microsecond=0)
        assert abs((timezone.localtime(failed.finished_at) - promised).total_seconds()) <= 40

    # During the retry: the failure is quoted from the killed pull, and no refresh is advised.
    retry = wait_for(
        lambda: PullOperation.objects.filter(connection=connection, trigger=PullOperation.Trigger.RETRY).first(),
        timeout=10,
        message="the retry",
    )
    text = wait_for(
        lambda: page_says(support_client, connection, rf"pull {retry.pk} is (reading it again now|queued to read it)"),
        timeout=60,
        interval=0.5,
        message="the page during the retry",
        worker=second,
    )
    assert (
        f"Invoices failed once; the last error on pull {pull.pk}: The worker stopped while reading invoices" in text
    ), text
    assert "no error was recorded" not in text and "refresh invoices" not in text

    done = wait_for(lambda: ended(retry), timeout=150, message="the retry to complete", worker=second)
    assert done.status == P.COMPLETE and done.records_fetched == 2400
    assert diagnosis_of(support_client, connection).startswith(GOOD)


def test_pulls_no_worker_picks_up_say_so_until_one_does(clearbooks, sandbox, start_worker, support_client, settings):
    settings.SYNC_STALE_SECONDS = 3  # this process calls a pull queued for 3 s "waiting"
    connection, _ = linked(sandbox, "e2e-waiting", invoices=12)
    everything_read_but(connection, "invoices", "bills")
    queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True)
    bills, _ = queue_pull(connection, "bills", PullOperation.Trigger.MANUAL, full=True)

    text = wait_for(
        lambda: page_says(support_client, connection, r"queued for \d+ s; no worker has picked them up"),
        timeout=20,
        interval=0.5,
        message="the page to say nobody picked them up",
    )
    assert re.search(r"Invoices and Bills queued for \d+ s; no worker has picked them up — check that the worker", text)
    assert GOOD not in text

    worker = start_worker()
    wait_for(lambda: ended(bills), timeout=45, message="the pulls to run", worker=worker)
    wait_for(
        lambda: diagnosis_of(support_client, connection).startswith(GOOD),
        timeout=45,
        message="nothing wrong once read",
        worker=worker,
    )
