"""Rules about synced records that any page, API or command shares, and the record browser's columns.

A data type declares its columns in the registry (`registry.Column`); this module turns them
into sort keys, search and cells. Amounts are never summed across currencies, and a
document nobody owes (a draft, a voided one) never counts as outstanding.
"""

from dataclasses import dataclass, field

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, NullIf

from integrations.registry import OWED, ColumnKind

from .models import Record

# A record without a currency is in the home currency: shown in pounds (portal_tags.money)
# and so summed with them.
HOME_CURRENCY = "GBP"
# Codat's statuses of documents that nobody owes: not issued yet, or cancelled.
NOT_OWED = ("Draft", "Void")
OWED_Q = ~Q(status__in=NOT_OWED)
# What a sum of amounts may add up: the two amounts every record may carry.
SUMMABLE = ("total", "balance")


def totals_by_currency(records):
    """{count, currencies: [{currency, total, balance}]} of a Record queryset, in one GROUP BY query.

    Amounts are summed per currency, never across currencies: pounds first, then the
    others by code. `balance` is what is outstanding: drafts and voided documents are left out.
    """
    sums = {}
    count = 0
    rows = (
        records.order_by()
        .values("currency")
        .annotate(n=Count("*"), total=Sum("total"), balance=Sum("balance", filter=OWED_Q))
    )
    for row in rows:
        count += row["n"]
        code = (row["currency"] or HOME_CURRENCY).upper()
        into = sums.setdefault(code, {"currency": code, "total": None, "balance": None})
        for name in SUMMABLE:
            if row[name] is not None:
                into[name] = (into[name] or 0) + row[name]
    order = sorted(sums, key=lambda code: (code != HOME_CURRENCY, code))
    return {"count": count, "currencies": [sums[code] for code in order]}


def summaries(totals, data_type):
    """The sums shown above the list: one per column the data type marks with a `total` label.

    [{key, label, amounts: [(amount, currency)]}], pounds first; £0.00 when nothing matches.
    """
    out = []
    for column in data_type.columns:
        if column.total and column.field in SUMMABLE:
            amounts = [(c[column.field] or 0, c["currency"]) for c in totals["currencies"]]
            out.append({"key": column.key, "label": column.total, "amounts": amounts or [(0, HOME_CURRENCY)]})
    return out


#
# Sorting and searching by the columns
#


def _owed_documents(data_type, related=None):
    """The records of `data_type`'s documents that are owed, of the same connection."""
    documents = Record.objects.filter(data_type=data_type.documents, is_deleted=False).filter(OWED_Q)
    if related is None:
        return documents.filter(connection_id=OuterRef("connection_id"), related_id=OuterRef("remote_id"))
    return documents.filter(related_id__in=related)


def sort_key(column) -> str:
    """The name of the alias `with_sort_keys` gives a column's sort value."""
    return f"sort_{column.key}"


def _sort_expression(column, data_type):
    if column.field == OWED:
        # Ordered by what is owed in the home currency (amounts in other currencies cannot
        # be compared with it); the cells show every currency.
        home = _owed_documents(data_type).filter(Q(currency="") | Q(currency=HOME_CURRENCY))
        total = home.order_by().values("related_id").annotate(owed=Sum("balance")).values("owed")
        return Coalesce(Subquery(total[:1]), Value(0), output_field=Record._meta.get_field("balance"))
    if column.attribute:
        return NullIf(KeyTextTransform(column.attribute, "attributes"), Value(""))
    if column.kind in (ColumnKind.TEXT, ColumnKind.EMAIL, ColumnKind.STATUS):
        return NullIf(F(column.field), Value(""))  # empty text sorts last, as missing dates do
    return F(column.field)


def value_key(column) -> str:
    """The name of the annotation holding a column's value as received."""
    return f"value_{column.key}"


def with_columns(records, data_type):
    """`records` with what the columns need: an alias per column to order by (SortFilter orders
    empty values last), and the values of the columns as received (so `attributes` can be deferred)."""
    records = records.alias(**{sort_key(c): _sort_expression(c, data_type) for c in data_type.columns})
    received = {value_key(c): KeyTextTransform(c.attribute, "attributes") for c in data_type.columns if c.attribute}
    return records.annotate(**received) if received else records


def search(records, data_type, text):
    """Records whose number, name, remote id or any text column as received contains `text`."""
    match = Q(number__icontains=text) | Q(name__icontains=text) | Q(remote_id__icontains=text)
    for column in data_type.columns:
        if column.attribute:
            match |= Q(**{f"attributes__{column.attribute}__icontains": text})
    return records.filter(match)


#
# Cells
#


@dataclass
class Cell:
    """What one column shows for one record, already worked out; the template only formats it."""

    kind: str
    value: object = None
    currency: str = ""
    amounts: list = field(default_factory=list)  # OWED: [(amount, currency)], pounds first
    not_owed: bool = False  # an outstanding amount of a document nobody owes


@dataclass
class Row:
    record: Record
    cells: list


def rows(records, data_type) -> list[Row]:
    """The cells of a page of records from `with_columns`.

    One more query when a column adds up what each record is owed, none otherwise.
    """
    records = list(records)
    owed = _owed_by_record(records, data_type)
    out = []
    for record in records:
        cells = []
        for column in data_type.columns:
            if column.field == OWED:
                cells.append(Cell(column.kind, amounts=owed.get(record.remote_id, [])))
            elif column.attribute:
                cells.append(Cell(column.kind, getattr(record, value_key(column), None) or ""))
            else:
                value = getattr(record, column.field)
                not_owed = column.field == "balance" and record.status in NOT_OWED
                cells.append(Cell(column.kind, value, record.currency, not_owed=not_owed))
        out.append(Row(record, cells))
    return out


def _owed_by_record(records, data_type) -> dict:
    """{remote id: [(amount owed, currency)]} for the records' documents, pounds first."""
    if not records or not any(c.field == OWED for c in data_type.columns):
        return {}
    connection_id = records[0].connection_id
    documents = _owed_documents(data_type, related=[r.remote_id for r in records]).filter(connection_id=connection_id)
    owed = {}
    for row in documents.order_by().values("related_id", "currency").annotate(owed=Sum("balance")):
        code = (row["currency"] or HOME_CURRENCY).upper()
        owed.setdefault(row["related_id"], []).append((row["owed"] or 0, code))
    for amounts in owed.values():
        amounts.sort(key=lambda pair: (pair[1] != HOME_CURRENCY, pair[1]))
    return owed
