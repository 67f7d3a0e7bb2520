"""Formatting shared by every page: times and dates (portal.web.dates), money, numbers and status badges."""

from decimal import Decimal

from django import template
from django.utils.html import format_html

from .. import dates

register = template.Library()

BADGE_TONES = {
    # connection statuses
    "Linked": "good",
    "PendingAuth": "info",
    "Deauthorized": "bad",
    "Unlinked": "muted",
    # pull operation statuses
    "Queued": "info",
    "Fetching": "info",
    "Processing": "info",
    "Complete": "good",
    "FetchError": "bad",
    "AuthError": "bad",
    "InternalError": "bad",
    "RateLimitError": "warn",
    "NotSupported": "muted",
    "Cancelled": "muted",
    # integration switch
    "On": "good",
    "Off": "muted",
    # record statuses (Codat's words, from the provider's mapping)
    "Paid": "good",
    "PartiallyPaid": "info",
    "Submitted": "info",
    "Open": "info",
    "Draft": "muted",
    "Void": "muted",
    "Active": "good",
    "Archived": "muted",
    "Unknown": "muted",
}


@register.simple_tag
def badge(status, label=None):
    """A status badge: colour *and* text, so it reads without colour too."""
    tone = BADGE_TONES.get(str(status), "muted")
    return format_html('<span class="badge badge--{}">{}</span>', tone, label or status)


@register.simple_tag
def when(value, empty="never"):
    """A time as every page writes it (portal.web.dates), with how long ago; the zone in its title."""
    if not value:
        return format_html('<span class="muted">{}</span>', empty)
    text = dates.format_datetime(value)
    return format_html(
        # The date and the hint each stay on one line; a narrow column breaks between them.
        '<time datetime="{}" title="{} ({})"><span class="when-date">{}</span> <span class="muted">({})</span></time>',
        value.isoformat(),
        text,
        dates.zone_name(),
        text,
        dates.relative(value),
    )


@register.filter
def day(value):
    """A calendar date as every page writes it: '3 Dec 2026' ('—' when there is none)."""
    return dates.format_date(value) if value else "—"


@register.filter
def money(value, currency="GBP"):
    """£1,234.56 for GBP; other currencies as 'EUR 1,234.56'."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    text = f"{abs(amount):,.2f}"
    if not currency or currency == "GBP":
        return f"{sign}£{text}"
    return f"{sign}{currency} {text}"


@register.filter
def number(value):
    if value is None or value == "":
        return "—"
    return f"{int(value):,}"


@register.filter
def duration(value):
    """A timedelta as '1 min 5 s' or '0.4 s'."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


@register.simple_tag(takes_context=True)
def query_with(context, **kwargs):
    """The current query string with some parameters replaced (for sort links and pages)."""
    params = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"
