"""Codat's paging: `page` (from 1) and `pageSize` in, `results`, `pageNumber`, `pageSize`,
`totalResults` and HAL `_links` (self, current, next, previous) out.

Links are relative to the API's base URL, as Codat's are ("/companies?page=2&pageSize=100").
"""

from urllib.parse import urlencode

from .errors import bad_request

API_PREFIX = "/api"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 5000  # what a request may ask for (Codat's parameter limit)
MAX_ANSWERED_PAGE_SIZE = 2000  # what one page holds at most (Codat's answer limit)


def _int_param(request, name, default, minimum, maximum):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number.", item=name, validator="integer") from None
    if not minimum <= value <= maximum:
        raise bad_request(f"{name} must be from {minimum} to {maximum}.", item=name, validator="range") from None
    return value


def page_params(request):
    """(page, page size) from the query string; 400 with Codat's body when out of range."""
    page = _int_param(request, "page", 1, 1, 2**31 - 1)
    size = _int_param(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return page, min(size, MAX_ANSWERED_PAGE_SIZE)


def relative_path(request) -> str:
    path = request.path
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path


def _href(path, page, size, extra):
    return {"href": f"{path}?{urlencode({**extra, 'page': page, 'pageSize': size})}"}


def paged(request, queryset, serialize) -> dict:
    """One page of `queryset` (or a list), each item through `serialize`, in Codat's envelope."""
    page, size = page_params(request)
    total = queryset.count() if hasattr(queryset, "count") and not isinstance(queryset, list) else len(queryset)
    start = (page - 1) * size
    items = list(queryset[start : start + size]) if start < total else []
    path = relative_path(request)
    extra = {name: request.query_params[name] for name in ("query", "orderBy") if request.query_params.get(name)}
    links = {"self": {"href": path}, "current": _href(path, page, size, extra)}
    if start + size < total:
        links["next"] = _href(path, page + 1, size, extra)
    if page > 1:
        links["previous"] = _href(path, min(page - 1, max(1, -(-total // size))), size, extra)
    return {
        "results": [serialize(item) for item in items],
        "pageNumber": page,
        "pageSize": size,
        "totalResults": total,
        "_links": links,
    }
