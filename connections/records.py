"""Rules about synced records that any page, API or command shares."""

from django.db.models import Count, Sum

# A record without a currency is in the home currency: shown in pounds (portal_tags.money)
# and so summed with them.
HOME_CURRENCY = "GBP"


def totals_by_currency(records):
    """{count, currencies: [{currency, total, balance}]} of a Record queryset, in one GROUP BY query.

    Amounts are summed per currency, never across currencies: pounds first, then the
    others by code.
    """
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
