"""Times written in the viewer's own time zone.

portal.js stores the browser's zone name (e.g. 'Asia/Tokyo') in the `tz` cookie; this
middleware activates it for the request, so every page, partial and sentence shows that
zone. Without the cookie (a first visit, or no JavaScript), or with a name that is not a
known zone, settings.TIME_ZONE applies.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

COOKIE = "tz"
MAX_NAME = 64  # the longest IANA names are about 30 characters


def zone_named(name):
    """The ZoneInfo for an IANA zone name, or None when it is not one."""
    if not name or len(name) > MAX_NAME:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown, or not a zone at all (a path, a data file)
        return None


class ViewerTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_named(request.COOKIES.get(COOKIE))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
