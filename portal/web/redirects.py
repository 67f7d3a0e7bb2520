"""Where a form sends the browser back to, without ever sending it to another site."""

from django.utils.http import url_has_allowed_host_and_scheme


def is_ours(request, target) -> bool:
    """True for a URL on this host (or a relative one), over HTTPS when the request came that way."""
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def safe_next(request, default, *, referer=False) -> str:
    """The POSTed `next`, else (when `referer`) the page the form was on, when ours; else `default`."""
    candidates = [request.POST.get("next")]
    if referer:
        candidates.append(request.META.get("HTTP_REFERER"))
    return next((target for target in candidates if is_ours(request, target)), default)
