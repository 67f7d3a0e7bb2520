"""The record browser: one connection's records of one data type, and a record with every attribute."""

from django.http import Http404
from django.shortcuts import get_object_or_404, render

from portal.web.access import require_perm
from portal.web.paging import window

from ..filtersets import RecordFilterSet
from ..models import Connection, Record
from ..records import totals_by_currency
from ..support.panels import attribute_tree

PER_PAGE = 50


@require_perm("connections.view_record")
def record_list(request, pk, data_type):
    connection = get_object_or_404(Connection.objects.select_related("company", "integration"), pk=pk)
    dt = connection.integration.provider.data_type(data_type)
    if dt is None:
        raise Http404(f"{connection.integration.name} has no data type {data_type!r}.")
    records = Record.objects.filter(connection=connection, data_type=data_type)
    filters = RecordFilterSet(request.GET, records, default_sort="-date" if dt.has_amounts else "number")
    totals = totals_by_currency(filters.qs)
    ctx = {
        "connection": connection,
        "data_type": dt,
        "filters": filters,
        "query": filters.value("q") or "",
        "next_sort": filters.header_sorts(),
        "totals": totals,
        "page": window(filters.qs.defer("attributes"), request, PER_PAGE, total=totals["count"]),
    }
    return render(request, "connections/record_list.html", ctx)


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
        "attributes": attribute_tree(record.attributes),
    }
    return render(request, "connections/record_detail.html", ctx)
