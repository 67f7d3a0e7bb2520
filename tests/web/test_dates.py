"""The one way a time is written: '3 Dec 2026, 09:06' in the viewer's zone, with how long ago."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from portal.web import dates
from portal.web.templatetags.portal_tags import day, when

MOMENT = datetime(2026, 12, 3, 9, 6, tzinfo=UTC)


def test_it_writes_day_short_month_year_and_24_hour_time():
    with timezone.override(ZoneInfo("Europe/London")):
        assert dates.format_datetime(MOMENT) == "3 Dec 2026, 09:06"
        assert dates.format_datetime(datetime(2026, 7, 14, 21, 30, tzinfo=UTC)) == "14 Jul 2026, 22:30"  # BST


def test_it_writes_the_time_in_the_current_zone():
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert dates.format_datetime(MOMENT) == "3 Dec 2026, 18:06"
        assert dates.zone_name() == "Asia/Tokyo"
        assert dates.format_hour(MOMENT) == "18:00"


def test_it_writes_a_date_alike_without_a_time():
    assert dates.format_date(date(2025, 1, 5)) == "5 Jan 2025"


def test_it_says_how_long_ago_or_how_soon():
    assert dates.relative(MOMENT - timedelta(minutes=5, seconds=3), now=MOMENT) == "5 minutes ago"
    assert dates.relative(MOMENT + timedelta(hours=2, minutes=10), now=MOMENT) == "in 2 hours"
    assert dates.relative(MOMENT - timedelta(seconds=20), now=MOMENT) == "just now"
    assert dates.relative(MOMENT + timedelta(seconds=20), now=MOMENT) == "just now"
    assert dates.timespan(MOMENT - timedelta(days=2, hours=3), MOMENT) == "2 days, 3 hours"


def test_the_when_tag_gives_the_time_its_zone_and_how_long_ago():
    with timezone.override(ZoneInfo("Europe/London")):
        html = when(MOMENT)
    assert f'datetime="{MOMENT.isoformat()}"' in html
    assert 'title="3 Dec 2026, 09:06 (Europe/London)"' in html
    assert '<span class="when-date">3 Dec 2026, 09:06</span>' in html
    assert "ago)</span>" in html


def test_the_when_tag_and_day_filter_say_when_there_is_nothing():
    assert when(None) == '<span class="muted">never</span>'
    assert when(None, "not yet") == '<span class="muted">not yet</span>'
    assert day(None) == "—"
    assert day(date(2026, 12, 3)) == "3 Dec 2026"


def test_it_rounds_how_soon_to_the_nearest_unit():
    """Issue #13: a Link URL valid for 7 days said "in 6 days" (the remainder was cut off)."""
    issued_a_moment_ago = MOMENT + timedelta(days=7) - timedelta(seconds=2)
    assert dates.relative(issued_a_moment_ago, now=MOMENT) == "in 7 days"
    assert dates.relative(MOMENT + timedelta(days=6, hours=13), now=MOMENT) == "in 7 days"
    assert dates.relative(MOMENT + timedelta(days=6, hours=11), now=MOMENT) == "in 6 days"
    assert dates.relative(MOMENT - timedelta(hours=23, minutes=45), now=MOMENT) == "1 day ago"  # not "24 hours"
    assert dates.relative(MOMENT - timedelta(minutes=59, seconds=40), now=MOMENT) == "1 hour ago"
    assert dates.relative(MOMENT + timedelta(hours=1, minutes=29), now=MOMENT) == "in 1 hour"
    assert dates.relative(MOMENT - timedelta(days=29, hours=13), now=MOMENT) == "1 month ago"
    assert dates.relative(MOMENT - timedelta(days=400), now=MOMENT) == "1 year ago"
    assert dates.relative(MOMENT - timedelta(seconds=59), now=MOMENT) == "just now"


def test_a_new_link_url_says_it_works_for_7_days(settings):
    settings.LINK_TOKEN_TTL_HOURS = 24 * 7
    expires = timezone.now() + timedelta(hours=settings.LINK_TOKEN_TTL_HOURS)
    assert "(in 7 days)</span>" in when(expires)
