"""The list pages' filter sets: bad values reported in plain words and ignored, the rest applied, a default order."""

from datetime import timedelta

from django.http import QueryDict
from django.utils import timezone

from connections.filtersets import CompanyFilterSet, PullFilterSet, RecordFilterSet
from connections.models import Company, PullOperation, Record
from tests import factory

P = PullOperation.Status


def query(**params):
    data = QueryDict(mutable=True)
    data.update(params)
    return data


def test_it_reports_a_bad_value_ignores_it_and_applies_the_rest(clearbooks):
    acme = factory.make_connection(factory.make_company("Acme Ltd"))
    factory.make_connection(factory.make_company("Other Ltd"))
    filters = CompanyFilterSet(query(q="acme", status="Bogus"), Company.objects.all())
    assert [c.name for c in filters.qs] == ["Acme Ltd"]
    assert filters.form.errors["status"] == ["Choose one of the listed values."]
    assert filters.filtered and filters.value("status") is None
    assert [c.pk for c in CompanyFilterSet(query(q=str(acme.pk)), Company.objects.all()).qs] == [acme.company_id]


def test_it_sorts_by_the_default_and_shows_it_selected(db):
    for name in ("B", "A", "C"):
        factory.make_company(name)
    filters = CompanyFilterSet(None, Company.objects.all())
    assert [c.name for c in filters.qs] == ["A", "B", "C"]
    assert not filters.filtered
    assert 'value="name" selected' in str(filters.form["sort"])
    bad = CompanyFilterSet(query(sort="sideways"), Company.objects.all())
    assert [c.name for c in bad.qs] == ["A", "B", "C"] and "sort" in bad.form.errors


def test_it_filters_pulls_by_day_in_the_viewers_zone_and_checks_the_range(clearbooks):
    connection = factory.make_connection()
    now = timezone.now()
    old = factory.make_pull(connection, "invoices", P.COMPLETE, requested_at=now - timedelta(days=3))
    new = factory.make_pull(connection, "bills", P.COMPLETE, requested_at=now)
    today = timezone.localdate()
    since = PullFilterSet(query(since=today.isoformat()), PullOperation.objects.all())
    assert list(since.qs) == [new]
    backwards = PullFilterSet(query(since=today.isoformat(), until="2000-01-01"), PullOperation.objects.all())
    assert backwards.form.errors["until"] == ["The end date must be on or after the start date."]
    assert list(backwards.qs) == [new]  # the good half still applies
    assert list(PullFilterSet(query(), PullOperation.objects.all()).qs) == [new, old]  # newest first


def test_it_takes_the_record_browsers_default_order_from_the_view(clearbooks):
    connection = factory.make_connection()
    factory.make_record(connection, remote_id="1", number="N1", is_deleted=True)
    factory.make_record(connection, remote_id="2", number="N2")
    records = Record.objects.filter(connection=connection)
    filters = RecordFilterSet(query(), records, default_sort="-number")
    assert [r.number for r in filters.qs] == ["N2"]  # deleted hidden unless asked
    assert filters.sort_key == "-number"
    assert filters.header_sorts()["number"] == "number"
    shown = RecordFilterSet(query(deleted="on"), records, default_sort="-number")
    assert [r.number for r in shown.qs] == ["N2", "N1"]
