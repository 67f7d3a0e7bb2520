"""The record browser: one connection's records of one data type, and a record with every attribute."""

from django.http import Http404
from django.shortcuts import get_object_or_404, render

from portal.web import dates
from portal.web.access import require_perm
from portal.web.paging import window

from .. import records as rules
from ..filtersets import RecordFilterSet
from ..models import Connection, DataStatus, Record
from ..support.panels import attribute_tree

PER_PAGE = 50


@require_perm("connections.view_record")
def record_list(request, pk, data_type):
    connection = get_object_or_404(Connection.objects.select_related("company", "integration"), pk=pk)
    dt = connection.integration.provider.data_type(data_type)
    if dt is None:
        raise Http404(f"{connection.integration.name} has no data type {data_type!r}.")
    records = Record.objects.filter(connection=connection, data_type=data_type)
    filters = RecordFilterSet(request.GET, records, data_type=dt)
    totals = rules.totals_by_currency(filters.qs)
    page = window(filters.qs.defer("attributes"), request, PER_PAGE, total=totals["count"])
    query = filters.value("q") or ""
    ctx = {
        "connection": connection,
        "data_type": dt,
        "filters": filters,
        "query": query,
        "headers": filters.headers(),
        "totals": totals,
        "summaries": rules.summaries(totals, dt),
        "page": page,
        "rows": rules.rows(page.items, dt),
        "empty": None if page.items or query else _why_empty(connection, dt, records),
    }
    return render(request, "connections/record_list.html", ctx)


def _why_empty(connection, data_type, records):
    """(sentence, hint) for a list with nothing to show: what was read, and what will happen."""
    S = Connection.Status
    deleted = records.filter(is_deleted=True).count()
    name = data_type.label.lower()
    if deleted:
        return (
            f"Every record of this data type read from {connection.integration.name} ({deleted}) "
            "was deleted there since.",
            "Tick “Show deleted records” to see them.",
        )
    status = DataStatus.objects.filter(connection=connection, data_type=data_type.name).first()
    if status and status.last_successful_sync_at:
        return (
            f"{connection.integration.name} had no {name} when they were last read.",
            f"The last successful pull was on {dates.format_datetime(status.last_successful_sync_at)}.",
        )
    hint = {
        S.PENDING_AUTH: "They are read once the company links its books with the Link URL.",
        S.LINKED: "They appear after the first successful pull.",
        S.DEAUTHORIZED: f"{connection.integration.name} rejected the credentials before any were read: "
        "they are read once the company relinks.",
        S.UNLINKED: "The connection is unlinked, so nothing more is read.",
    }.get(connection.status, "")
    return (f"No {name} have been read yet.", hint)


@require_perm("connections.view_record")
def record_detail(request, pk):
    record = get_object_or_404(
        Record.objects.select_related("connection__company", "connection__integration", "last_pull"), pk=pk
    )
    dt = record.connection.integration.provider.data_type(record.data_type)
    ctx = {
        "record": record,
        "connection": record.connection,
        "data_type_label": dt.label if dt else record.data_type,
        "has_amounts": bool(dt and dt.has_amounts),
        "not_owed": record.status in rules.NOT_OWED,
        "attributes": attribute_tree(record.attributes),
    }
    return render(request, "connections/record_detail.html", ctx)
