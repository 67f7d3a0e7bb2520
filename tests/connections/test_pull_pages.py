"""Read history (global and per company), a pull's page, and its live progress during a real pull."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.credentials import store_credentials
from connections.models import Connection, PullOperation
from connections.sync.queueing import queue_pull
from tests import factory
from tests.plugins.worker import wait_for

P = PullOperation.Status
LIST = reverse("connections:pull-list")


@pytest.fixture
def history(clearbooks, admin_user):
    acme = factory.make_connection(factory.make_company("Acme Ltd"))
    other = factory.make_connection(factory.make_company("Other Ltd"))
    now = timezone.now()
    made = {
        "done": factory.make_pull(
            acme, "invoices", P.COMPLETE, requested_at=now - timedelta(days=3), records_fetched=40, records_created=40
        ),
        "failed": factory.make_pull(
            acme,
            "bills",
            P.FETCH_ERROR,
            requested_at=now - timedelta(days=1),
            error_message="Clear Books did not answer in time.",
            error_detail="ReadTimeout: HTTPConnectionPool(host='127.0.0.1')",
        ),
        "running": factory.make_pull(
            other,
            "customers",
            P.FETCHING,
            requested_at=now,
            records_fetched=250,
            pages_fetched=3,
            expected_records=1000,
            requested_by=admin_user,
        ),
    }
    return acme, other, made


def ids(response):
    return [p.pk for p in response.context["page"].items]


def test_it_lists_every_pull_newest_first(support_client, history):
    _, _, made = history
    response = support_client.get(LIST)
    assert ids(response) == [made["running"].pk, made["failed"].pk, made["done"].pk]
    html = response.content.decode()
    assert 'badge--bad">FetchError<' in html and "Other Ltd" in html and "Clear Books" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "FetchError"}, ["failed"]),
        ({"data_type": "invoices"}, ["done"]),
        ({"integration": "jhch"}, ["running", "failed", "done"]),
        ({"since": "{today}"}, ["running"]),
        ({"until": "{two_days_ago}"}, ["done"]),
    ],
)
def test_it_filters_by_status_data_type_integration_and_dates(support_client, history, query, expected):
    _, _, made = history
    today = timezone.localdate()
    values = {"today": today.isoformat(), "two_days_ago": (today - timedelta(days=2)).isoformat()}
    query = {k: v.format(**values) for k, v in query.items()}
    assert ids(support_client.get(LIST, query)) == [made[name].pk for name in expected]


def test_it_says_what_is_wrong_with_a_filter_and_applies_the_rest(support_client, history):
    _, _, made = history
    response = support_client.get(LIST, {"since": "last tuesday", "status": "FetchError"})
    assert "Enter a date like 2025-03-03." in response.content.decode()
    assert ids(response) == [made["failed"].pk]
    response = support_client.get(LIST, {"since": "2025-03-10", "until": "2025-03-01"})
    assert "The end date must be on or after the start date." in response.content.decode()


def test_it_shows_one_companys_history_only(support_client, history):
    acme, _, made = history
    response = support_client.get(reverse("connections:company-pulls", args=[acme.company_id]))
    assert ids(response) == [made["failed"].pk, made["done"].pk]
    assert "Read history of Acme Ltd" in response.content.decode()


def test_it_pages_without_counting_the_whole_history(support_client, clearbooks, django_assert_max_num_queries):
    connection = factory.make_connection()
    PullOperation.objects.bulk_create(
        PullOperation(connection=connection, data_type="invoices", status=P.COMPLETE, trigger="schedule")
        for _ in range(120)
    )
    first = support_client.get(LIST)
    assert len(ids(first)) == 50 and 'rel="next"' in first.content.decode()
    last = support_client.get(LIST, {"page": 3})
    assert len(ids(last)) == 20 and 'rel="next"' not in last.content.decode()
    assert not set(ids(first)) & set(ids(last))
    with django_assert_max_num_queries(8):
        support_client.get(LIST, {"page": 2, "status": "Complete", "data_type": "invoices"})


def test_it_shows_a_failed_pull_with_its_sentence_detail_and_counts(support_client, history):
    _, _, made = history
    html = support_client.get(reverse("connections:pull-detail", args=[made["failed"].pk])).content.decode()
    assert "Clear Books did not answer in time." in html
    assert "ReadTimeout: HTTPConnectionPool" in html
    assert 'class="count-fetched">0<' in html
    assert "hx-trigger" not in html  # finished: nothing to poll
    assert reverse("connections:pull-cancel", args=[made["failed"].pk]) not in html


def test_it_shows_mode_modified_since_trigger_and_who(admin_client, history, admin_user):
    acme, _, _ = history
    since = timezone.now() - timedelta(days=2)
    pull = factory.make_pull(
        acme, "customers", P.COMPLETE, mode="incremental", modified_since=since, requested_by=admin_user
    )
    html = admin_client.get(reverse("connections:pull-detail", args=[pull.pk])).content.decode()
    assert "Incremental — modified since" in html and since.isoformat() in html
    assert "Manual by alice" in html


def test_it_polls_the_progress_of_a_running_pull_and_offers_cancel(support_client, history):
    _, _, made = history
    running = made["running"]
    html = support_client.get(reverse("connections:pull-detail", args=[running.pk])).content.decode()
    progress_url = reverse("connections:pull-progress", args=[running.pk])
    assert f'hx-get="{progress_url}" hx-trigger="every 1s"' in html
    assert 'aria-valuenow="25"' in html  # 250 of about 1,000
    assert reverse("connections:pull-cancel", args=[running.pk]) in html
    partial = support_client.get(progress_url).content.decode()
    assert partial.lstrip().startswith('<div id="pull-progress"') and "<html" not in partial
    assert 'data-records-fetched="250"' in partial


def test_it_hides_cancel_from_those_who_may_not_cancel(client, history, clearbooks):
    from django.contrib.auth.models import Permission

    _, _, made = history
    viewer = factory.make_user("vic")
    viewer.user_permissions.add(Permission.objects.get(codename="view_pulloperation"))
    client.force_login(viewer)
    html = client.get(reverse("connections:pull-detail", args=[made["running"].pk])).content.decode()
    assert reverse("connections:pull-cancel", args=[made["running"].pk]) not in html


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_shows_live_progress_moving_during_a_real_pull(client, sandbox, start_worker):
    """A slow sandbox and a real qcluster: the polled partial shows records_fetched rising, then Complete."""
    sandbox.configure(page_sizes={"listInvoices": 20}, latency_ms=150)
    key = sandbox.make_key(seed="progress", invoices=300, customers=0, suppliers=0, both=0, bills=0)
    integration = factory.get_integration("jhch", enabled=True)
    connection = factory.make_connection(integration=integration)
    store_credentials(connection, {"api_key": key}, "link")
    client.force_login(factory.make_support())
    start_worker()
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL)
    url = reverse("connections:pull-progress", args=[pull.pk])
    seen = []

    def finished():
        html = client.get(url).content.decode()
        fetched = int(html.split('data-records-fetched="')[1].split('"')[0])
        if not seen or seen[-1][0] != fetched:
            seen.append((fetched, "hx-trigger" in html))
        return 'data-status="Complete"' in html and html

    final = wait_for(finished, timeout=90, interval=0.25, message="the pull to complete")
    assert "hx-trigger" not in final  # polling stops once it has finished
    assert seen[-1][0] == 300
    fetched = [value for value, _ in seen]
    assert fetched == sorted(fetched)
    assert len([v for v, polling in seen if 0 < v < 300 and polling]) >= 2, seen  # moved while running
    assert Connection.objects.get(pk=connection.pk).records.count() == 300
