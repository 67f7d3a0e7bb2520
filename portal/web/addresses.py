"""The client's address, as far as this deployment's own proxies can tell.

Shared by the Link pages' limits and the login throttle (django-axes' AXES_CLIENT_IP_CALLABLE),
so both count the same visitor the same way.
"""

import ipaddress

from django.conf import settings
from ipware import get_client_ip


def client_address(request) -> str:
    """The address the request came from.

    With TRUSTED_PROXY_COUNT = 0 (the default) it is REMOTE_ADDR, which a client cannot
    forge. Behind N reverse proxies, each of which appends the address it was reached from
    to X-Forwarded-For, it is the N-th address from the right of that header: whatever a
    client wrote further left is ignored. A header with fewer addresses than that was not
    written by our proxies, so REMOTE_ADDR is used.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    # django-ipware counts the proxies after the client inside the header: the nearest
    # proxy is REMOTE_ADDR and not in it, hence proxies - 1.
    address, _ = get_client_ip(
        request, proxy_count=proxies - 1, request_header_order=["HTTP_X_FORWARDED_FOR"], strict=False
    )
    return address or remote


def client_ip(request) -> str | None:
    """client_address as an IP address, or None when there is none (e.g. a request made in code,
    as Django's force_login does): django-axes stores it in an IP address column."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
