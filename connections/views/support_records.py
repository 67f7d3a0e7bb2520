"""The record browser: one connection's records of one data type, and a record with every attribute."""

from django.db.models import Count, Q, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from portal.web.access import require_perm

from ..models import Record
from ..support_forms import RECORD_SORTS, RecordFilterForm
from .support import connection_or_404, window

PER_PAGE = 50
MAX_DEPTH = 12  # attributes nest a few levels; deeper is shown as text rather than recursed into


@require_perm("connections.view_record")
def record_list(request, pk, data_type):
    connection = connection_or_404(pk)
    dt = connection.integration.provider.data_type(data_type)
    if dt is None:
        raise Http404(f"{connection.integration.name} has no data type {data_type!r}.")
    default_sort = "-date" if dt.has_amounts else "number"
    form = RecordFilterForm(request.GET or None, initial={"sort": default_sort})  # the select shows the real order
    records = Record.objects.filter(connection=connection, data_type=data_type)
    if not form.value("deleted"):
        records = records.filter(is_deleted=False)
    query = form.value("q").strip()
    if query:
        records = records.filter(Q(number__icontains=query) | Q(name__icontains=query) | Q(remote_id__icontains=query))
    totals = totals_by_currency(records)
    sort = form.value("sort") or default_sort
    ordered = records.order_by(RECORD_SORTS[sort][0], "pk").defer("attributes")
    ctx = {
        "connection": connection,
        "data_type": dt,
        "form": form,
        "query": query,
        "sort": sort,
        # A header sorts by its column; clicked again, it reverses (dates and amounts start newest/largest).
        "next_sort": {
            "number": "-number" if sort == "number" else "number",
            "date": "date" if sort == "-date" else "-date",
            "amount": "amount" if sort == "-amount" else "-amount",
        },
        "totals": totals,
        "page": window(ordered, request, PER_PAGE, total=totals["count"]),
    }
    return render(request, "connections/record_list.html", ctx)


HOME_CURRENCY = "GBP"  # a record without a currency is shown in pounds (portal_tags.money), so summed with them


def totals_by_currency(records):
    """{count, currencies: [{currency, total, balance}]}: amounts are summed per currency, never
    across currencies (pounds first, then the others by code), in one GROUP BY query."""
    sums = {}
    count = 0
    for row in records.order_by().values("currency").annotate(n=Count("*"), total=Sum("total"), balance=Sum("balance")):
        count += row["n"]
        code = (row["currency"] or HOME_CURRENCY).upper()
        into = sums.setdefault(code, {"currency": code, "total": None, "balance": None})
        for name in ("total", "balance"):
            if row[name] is not None:
                into[name] = (into[name] or 0) + row[name]
    order = sorted(sums, key=lambda code: (code != HOME_CURRENCY, code))
    return {"count": count, "currencies": [sums[code] for code in order]}


def attribute_tree(value, depth=0):
    """Attributes as nodes the template can render without knowing Python types: dicts, lists, values."""
    if depth < MAX_DEPTH and isinstance(value, dict):
        return {"kind": "dict", "items": [(str(k), attribute_tree(v, depth + 1)) for k, v in value.items()]}
    if depth < MAX_DEPTH and isinstance(value, list):
        return {"kind": "list", "items": [attribute_tree(v, depth + 1) for v in value]}
    if value is None or value == "":
        return {"kind": "empty", "value": "empty" if value == "" else "null"}
    return {"kind": "value", "value": value}


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
