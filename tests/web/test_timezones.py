"""Times in the viewer's own zone: the cookie portal.js sets picks the zone of every page."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from portal.web.timezones import COOKIE, ViewerTimeZoneMiddleware, zone_named


@pytest.mark.parametrize("name", ["Asia/Tokyo", "America/New_York", "UTC"])
def test_it_knows_real_zones(name):
    assert str(zone_named(name)) == name


@pytest.mark.parametrize(
    "name", ["", None, "Nowhere/City", "../etc/passwd", "/etc/passwd", "zone.tab", "Europe", "x" * 200]
)
def test_it_refuses_anything_else(name):
    assert zone_named(name) is None


def zone_during(cookie):
    seen = []
    middleware = ViewerTimeZoneMiddleware(
        lambda request: seen.append(timezone.get_current_timezone_name()) or HttpResponse()
    )
    request = RequestFactory().get("/")
    if cookie is not None:
        request.COOKIES[COOKIE] = cookie
    middleware(request)
    return seen[0]


def test_it_shows_pages_in_the_cookies_zone_and_forgets_it_afterwards(settings):
    assert zone_during("Asia/Tokyo") == "Asia/Tokyo"
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_it_falls_back_to_the_portals_zone(settings):
    assert zone_during(None) == settings.TIME_ZONE
    assert zone_during("Not/AZone") == settings.TIME_ZONE


def test_a_page_writes_its_times_in_the_viewers_zone(support_client, db):
    from datetime import UTC, datetime

    from connections.models import Company
    from tests import factory

    company = factory.make_company("Tokyo Traders")
    Company.objects.filter(pk=company.pk).update(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    support_client.cookies[COOKIE] = "Asia/Tokyo"
    html = support_client.get(f"/companies/{company.pk}/").content.decode()
    assert '<span class="when-date">2 Mar 2026, 08:30</span>' in html
    assert "(Asia/Tokyo)" in html
