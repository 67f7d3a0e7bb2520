"""Safe targets: which URLs an endpoint may point at (server-side request forgery guard).

In production an endpoint must use HTTPS and every address its host name resolves to must
be public: loopback, private, link-local, multicast, reserved and unspecified addresses are
refused. `WEBHOOK_ALLOW_LOCAL_TARGETS` (development and tests) allows plain HTTP and those
addresses. Checked when an endpoint is saved and again before every delivery (DNS changes).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeTarget(Exception):
    """The URL may not be called; the message says why, in a sentence."""


@dataclass(frozen=True)
class Target:
    """Where a delivery connects: the address checked, so a second DNS answer cannot send it elsewhere."""

    https: bool
    host: str  # the host name, for the Host header and the TLS certificate
    port: int
    path: str  # with the query
    addresses: tuple  # the resolved IP addresses, in the resolver's order: connections go only to these


def _resolve(host: str, port: int) -> list:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeTarget(f"The host name {host} does not resolve ({error}).") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _refusal(address) -> str:
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    for test, label in (
        # The narrowest first: Python counts loopback, link-local and 0.0.0.0 as private too.
        ("is_loopback", "a loopback"),
        ("is_unspecified", "an unspecified"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_reserved", "a reserved"),
        ("is_private", "a private"),
    ):
        if getattr(address, test):
            return label
    return ""


def check_url(url: str, *, allow_local=None) -> None:
    """Raise UnsafeTarget unless the portal may send webhooks to `url` now."""
    if allow_local is None:
        allow_local = settings.WEBHOOK_ALLOW_LOCAL_TARGETS
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeTarget("The URL must start with https:// and name a host.")
    if parts.scheme != "https" and not allow_local:
        raise UnsafeTarget("The URL must use HTTPS.")
    if parts.username or parts.password:
        raise UnsafeTarget("The URL must not hold a user name or password.")
    if allow_local:
        return
    try:
        port = parts.port or 443
    except ValueError:
        raise UnsafeTarget("The URL's port is not a number between 0 and 65535.") from None
    for address in _resolve(parts.hostname, port):
        kind = _refusal(address)
        if kind:
            raise UnsafeTarget(
                f"{parts.hostname} resolves to {address}, {kind} address: webhooks are only sent to public addresses."
            )


def pin(url: str, *, allow_local=None) -> Target:
    """Check `url` and resolve it once: the delivery connects to this address (no DNS rebinding)."""
    check_url(url, allow_local=allow_local)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        raise UnsafeTarget("The URL's port is not a number between 0 and 65535.") from None
    addresses = _resolve(parts.hostname, port)
    if allow_local is None:
        allow_local = settings.WEBHOOK_ALLOW_LOCAL_TARGETS
    if not allow_local:
        unsafe = [a for a in addresses if _refusal(a)]
        if unsafe:  # check_url saw safe answers; this resolution did not
            raise UnsafeTarget(
                f"{parts.hostname} now resolves to {unsafe[0]}: webhooks are only sent to public addresses."
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(https, parts.hostname, port, path, tuple(dict.fromkeys(str(a) for a in addresses)))
