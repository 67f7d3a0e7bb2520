"""One way to write a moment on every page: "3 Dec 2026, 09:06", in the viewer's time zone.

The viewer's zone is the one `timezones.ViewerTimeZoneMiddleware` activates (the browser's,
told by portal.js), else settings.TIME_ZONE. Pages, template tags and the sentences the
support pages write all go through these functions, so a time reads the same everywhere.
"""

from django.utils import timezone
from django.utils.timesince import timesince


def format_datetime(value) -> str:
    """'3 Dec 2026, 09:06': day, short month, year, 24-hour time, in the current time zone."""
    local = timezone.localtime(value)
    return f"{local.day} {local:%b %Y}, {local:%H:%M}"


def format_date(value) -> str:
    """'3 Dec 2026': a calendar date (no time zone: it is the same day for everyone)."""
    return f"{value.day} {value:%b %Y}"


def zone_name() -> str:
    """The time zone times are written in, e.g. 'Europe/London'."""
    return timezone.get_current_timezone_name()


def timespan(start, end, depth=2) -> str:
    """'2 days, 3 hours' from `start` to `end`, in at most `depth` units."""
    return timesince(start, end, depth=depth).replace("\xa0", " ")


# The units of a relative time, largest first: (name, seconds). No weeks: "in 7 days" reads
# better than "in 1 week" next to a date, and a Link URL lasts 7 days.
UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


def rounded_span(seconds: float) -> str:
    """'7 days': the largest unit that fits, rounded to the nearest whole one ('' under a minute).

    Rounded, not cut: a Link URL issued a moment ago lasts 6 days 23 hours 59 minutes, which
    is "7 days", not "6 days"; and 23 hours 45 minutes is "1 day".
    """
    seconds = abs(seconds)
    for index, (name, size) in enumerate(UNITS):
        if seconds >= size:
            count = int(seconds / size + 0.5)
            bigger = UNITS[index - 1] if index else None
            if bigger and count * size >= bigger[1]:  # rounded up into the next unit
                name, count = bigger[0], 1
            return f"{count} {name}{'' if count == 1 else 's'}"
    return ""


def relative(value, now=None) -> str:
    """'5 minutes ago', 'in 7 days' or 'just now' (under a minute either way), rounded."""
    now = now or timezone.now()
    span = rounded_span((value - now).total_seconds())
    if not span:
        return "just now"
    return f"{span} ago" if value <= now else f"in {span}"


def format_hour(value) -> str:
    """'09:00': the hour a moment falls in, in the current time zone (a chart's axis)."""
    return f"{timezone.localtime(value):%H}:00"


def format_time(value, now=None) -> str:
    """'10:42:05' for a moment of today in the current time zone, else as format_datetime.

    For what is in flight (a retry's next try, when the watchdog acts): seconds apart, and
    usually today.
    """
    local, today = timezone.localtime(value), timezone.localtime(now or timezone.now())
    return f"{local:%H:%M:%S}" if local.date() == today.date() else format_datetime(value)


def elapsed(start, end) -> str:
    """'90 s' under two minutes, else '12 minutes' or '2 hours, 5 minutes': how long something has waited."""
    seconds = max(0, int((end - start).total_seconds()))
    return f"{seconds} s" if seconds < 120 else timespan(start, end)
