"""Values as the wire writes them: money without a fixed scale, dates without a time zone."""

from datetime import date, datetime
from decimal import Decimal

CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    """Plain text without a fixed scale, as on the wire: 0, 2, 6608.66, 12.5."""
    if value == 0:
        return "0"
    return format(value.quantize(CENT).normalize(), "f")


def wire_datetime(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def wire_date(value: date) -> str:
    return value.strftime("%Y-%m-%d 00:00:00")


def phone(rng, prefix: str) -> str:
    """A number in one of Ofcom's drama ranges (see ukdata.TOWNS), so it belongs to nobody."""
    return prefix + str(rng.randint(0, 999)).zfill(3)
