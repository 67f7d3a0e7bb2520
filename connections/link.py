"""The Link flow: issue Link URLs, and take the credentials a company's user submits.

A Link URL carries an unguessable token (secrets.token_urlsafe) that only lets
someone submit credentials for one connection, once, before it expires. The key is
validated live through the provider; only a valid key is stored (encrypted) and
moves the connection to Linked. Every attempt is recorded in the timeline and as a
LinkAttempt; the key itself never goes anywhere but the provider and
`credentials.store_credentials`.

Guessing keys is what the rate limits stop, so only failed attempts count (a key the
platform refused, or an attempt still being checked): LINK_RATE_LIMIT of them per Link
URL and LINK_ADDRESS_RATE_LIMIT per client address in LINK_RATE_WINDOW_MINUTES. The
address limit is high because a whole office, or every customer behind a load balancer
the portal does not see through (TRUSTED_PROXY_COUNT), shares one address. A successful
link, or an attempt Clear Books could not check, never counts.

Guessing Link URLs themselves is hopeless (256 random bits), and limited all the same: every
visit to a Link URL that does not exist counts against the client address too, so an address
that tries LINK_ADDRESS_RATE_LIMIT unknown Link URLs (or refused keys) in the window is paused.
"""

import logging
import math
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from integrations.registry import CredentialStatus

from . import status
from .credentials import store_credentials
from .events import COMPANY_USER, record_event
from .link_urls import link_url_expired, token_hash
from .models import Connection, ConnectionEvent, LinkAttempt
from .signals import link_rejected
from .sync.queueing import queue_first_link_pulls

logger = logging.getLogger(__name__)

S = Connection.Status


class Outcome:
    """What happened to a Link page visit or submission; the view picks the page from it."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    RATE_LIMITED = "rate_limited"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    DISABLED = "disabled"


HTTP_STATUS = {
    Outcome.ACCEPTED: 200,
    Outcome.REJECTED: 200,
    Outcome.UNREACHABLE: 200,
    Outcome.RATE_LIMITED: 429,
    Outcome.UNKNOWN: 404,
    Outcome.USED: 410,
    Outcome.EXPIRED: 410,
    # The admin switched the integration off; it may come back on, so "unavailable".
    Outcome.DISABLED: 503,
}


@dataclass
class LinkResult:
    outcome: str
    connection: Connection | None = None
    message: str = ""  # a sentence for the company's user
    hint: str = ""  # what to do about it
    until: datetime | None = None  # RATE_LIMITED: when the Link URL may be used again

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.outcome]

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.ACCEPTED

    @property
    def retry_after(self) -> int | None:
        """Whole seconds until `until` (at least 1), for a Retry-After header; None without one."""
        if self.until is None:
            return None
        return max(1, math.ceil((self.until - timezone.now()).total_seconds()))


#
# Using a Link URL
#


def find_link(token: str) -> LinkResult:
    """Check a token before showing or accepting the Link form.

    Returns a result whose outcome is ACCEPTED when the form may be used, or the
    reason it may not (unknown, used, expired, disabled).
    """
    connection = (
        Connection.objects.select_related("company", "integration").filter(link_token=token).first() if token else None
    )
    if connection is None:
        return LinkResult(
            Outcome.UNKNOWN,
            message="This Link URL does not exist.",
            hint="Check that the whole address was copied, or ask whoever sent it for a new one.",
        )
    if connection.link_token_used_at is not None or connection.status == S.LINKED:
        return LinkResult(
            Outcome.USED,
            connection,
            message="This Link URL has already been used.",
            hint="Your books are linked. If you need to link them again, ask for a new Link URL.",
        )
    if link_url_expired(connection):
        return LinkResult(
            Outcome.EXPIRED,
            connection,
            message="This Link URL has expired.",
            hint="Link URLs work for a limited time. Ask whoever sent it for a new one.",
        )
    reason = connection.integration.refuse_new_links_reason()
    if reason:
        return LinkResult(Outcome.DISABLED, connection, message=reason, hint="Please try again later.")
    return LinkResult(Outcome.ACCEPTED, connection)


# Outcomes that count against the limits: a refused key, and an attempt still being checked
# (so that many submissions at once cannot all slip under the limit). Against the client
# address, a visit to a Link URL that does not exist counts too (someone guessing tokens).
COUNTED_OUTCOMES = (Outcome.REJECTED, "")
ADDRESS_COUNTED_OUTCOMES = (*COUNTED_OUTCOMES, Outcome.UNKNOWN)


@dataclass(frozen=True)
class Lockout:
    """Why and until when Link attempts are refused."""

    scope: str  # "link" (this Link URL) or "address" (the client's address)
    until: datetime


def lockout(token: str, client_address: str, now=None) -> Lockout | None:
    """The lockout in force for this Link URL or this client address, or None.

    A scope is locked while it has `limit` counted attempts in the window; it unlocks when
    the `limit`-th newest of them leaves the window. Two indexed queries, each reading one row.
    """
    now = now or timezone.now()
    window = timedelta(minutes=settings.LINK_RATE_WINDOW_MINUTES)
    recent = LinkAttempt.objects.filter(created_at__gt=now - window)
    scopes = (
        ("link", {"token_hash": token_hash(token), "outcome__in": COUNTED_OUTCOMES}, settings.LINK_RATE_LIMIT),
        (
            "address",
            {"client_address": client_address[:64], "outcome__in": ADDRESS_COUNTED_OUTCOMES},
            settings.LINK_ADDRESS_RATE_LIMIT,
        ),
    )
    for scope, match, limit in scopes:
        oldest_counted = (
            recent.filter(**match).order_by("-created_at").values_list("created_at", flat=True)[limit - 1 : limit]
        )
        for at in oldest_counted:
            return Lockout(scope, at + window)
    return None


def rate_limited(token: str, client_address: str) -> bool:
    """True when the Link URL or the client address used up its failed attempts in the window."""
    return lockout(token, client_address) is not None


def _prune_attempts():
    # Attempts only matter inside the window; a day's worth is kept for support, no more.
    keep = max(timedelta(days=1), timedelta(minutes=settings.LINK_RATE_WINDOW_MINUTES))
    LinkAttempt.objects.filter(created_at__lt=timezone.now() - keep).delete()


def rate_limited_result(connection, lock: Lockout) -> LinkResult:
    """What the company's user reads while a lockout lasts (the page adds when it ends)."""
    if lock.scope == "link":
        message = "This Link URL is locked for a while."
        hint = "A wrong API key was entered here too many times, so for your security it is locked."
    else:
        message = "Too many failed attempts from your network."
        hint = (
            "API keys were refused, or Link URLs that do not exist were opened, too many times from your network, "
            "so for your security linking from it is paused."
        )
    return LinkResult(
        Outcome.RATE_LIMITED,
        connection,
        message=message,
        hint=hint + " Nothing was saved, and you need not ask for a new Link URL.",
        until=lock.until,
    )


def check_link(token: str, client_address: str) -> LinkResult:
    """find_link, then the lockouts: whether the Link form may be shown and used from this address.

    A Link URL that does not exist is counted against the address (a guess), and once the
    address is locked it reads the lock, not "does not exist": a guesser learns nothing more.
    """
    found = find_link(token)
    if found.ok or found.outcome == Outcome.UNKNOWN:
        lock = lockout(token, client_address)
        if lock is not None:
            return rate_limited_result(found.connection, lock)
    if found.outcome == Outcome.UNKNOWN:
        _prune_attempts()
        LinkAttempt.objects.create(
            token_hash=token_hash(token), client_address=client_address[:64], outcome=found.outcome
        )
    return found


@sensitive_variables("api_key", "credentials")
def submit_credentials(token: str, api_key: str, client_address: str) -> LinkResult:
    """Validate a submitted key live and, if the platform accepts it, link the connection.

    Valid: credentials stored (encrypted), status Linked, token used, first-link pulls
    queued. Rejected or unreachable: nothing stored, status unchanged. Every attempt
    is recorded (timeline and LinkAttempt); the key never is.
    """
    found = check_link(token, client_address)
    if not found.ok:
        return found
    connection = found.connection
    _prune_attempts()
    attempt = LinkAttempt.objects.create(token_hash=token_hash(token), client_address=client_address[:64])

    integration = connection.integration
    provider = integration.provider
    credentials = {"api_key": api_key}
    try:
        check = provider.validate_credentials(integration.effective_settings(), credentials)
    except Exception as exc:  # noqa: BLE001  a bug in the provider must not lose the user's visit
        _log_failure(exc, api_key, connection)
        check = None

    if check is not None and check.status == CredentialStatus.VALID:
        result = _accept(connection, token, credentials)
    elif check is not None and check.status == CredentialStatus.REJECTED:
        result = _reject(connection, provider, check, client_address, api_key)
    else:
        result = _unreachable(connection, provider, check, client_address, api_key)
    attempt.outcome = result.outcome
    attempt.save(update_fields=["outcome"])
    return result


@sensitive_variables("credentials")
def accept_credentials(locked, credentials, *, actor_label, reason, via=None) -> bool:
    """Store checked credentials on a locked connection and link it; returns whether it was a relink.

    The one way a connection becomes Linked with new credentials, from the Link page or
    the API: credentials stored, the Link URL marked used, the timeline told, the status
    moved (when not Linked already) and the first pulls queued. Call inside a transaction
    holding the row's lock. `reason(relink)` words the status change.
    """
    relink = locked.status != S.PENDING_AUTH
    store_credentials(locked, credentials, validated_by="link")
    if locked.link_token and locked.link_token_used_at is None:
        locked.link_token_used_at = timezone.now()  # the Link URL has done its job
        locked.save(update_fields=["link_token_used_at"])
    detail = {"fingerprint": locked.credentials_fingerprint, "relink": relink} | ({"via": via} if via else {})
    record_event(
        locked,
        ConnectionEvent.Kind.LINK_ACCEPTED,
        f"{locked.integration.name} accepted the API key"
        + (" (relinked: the credentials were updated)." if relink else "."),
        actor_label=actor_label,
        detail=detail,
    )
    if locked.status != S.LINKED:
        status.move(locked, S.LINKED, reason=reason(relink), actor_label=actor_label)
        queue_first_link_pulls(locked)
    return relink


@sensitive_variables("credentials")
def _accept(connection, token, credentials) -> LinkResult:
    with transaction.atomic():
        # Lock the row: two submissions of one token must not both link.
        locked = Connection.objects.select_for_update().select_related("integration", "company").get(pk=connection.pk)
        if locked.link_token != token or locked.link_token_used_at is not None or locked.status == S.LINKED:
            return find_link(token)  # used, relinked or replaced meanwhile: say which
        accept_credentials(locked, credentials, actor_label=COMPANY_USER, reason=_link_page_reason)
    return LinkResult(
        Outcome.ACCEPTED,
        locked,
        message=f"Your {locked.integration.name} books are now linked.",
        hint="We have started reading your data. You can close this page.",
    )


def _link_page_reason(relink):
    return "The company's user relinked with a new API key." if relink else "The company's user linked their books."


@sensitive_variables("api_key")
def _reject(connection, provider, check, client_address, api_key) -> LinkResult:
    message = f"{provider.name} did not accept the API key that was submitted; nothing was saved."
    with transaction.atomic():
        record_event(
            connection,
            ConnectionEvent.Kind.LINK_REJECTED,
            message,
            actor_label=COMPANY_USER,
            detail={"client_address": client_address, "detail": _scrub(check.detail, api_key)},
        )
        link_rejected.send(Connection, connection=connection, reason=message)
    return LinkResult(
        Outcome.REJECTED,
        connection,
        message=f"{provider.name} did not accept this API key.",
        hint=(
            f"In {provider.name}, open Settings > Configure system > API keys and copy the key shown under "
            "SOAP API. Paste the whole key, with nothing before or after it."
        ),
    )


@sensitive_variables("api_key")
def _unreachable(connection, provider, check, client_address, api_key) -> LinkResult:
    detail = _scrub(check.detail if check else "the provider raised an unexpected error", api_key)
    record_event(
        connection,
        ConnectionEvent.Kind.LINK_UNREACHABLE,
        f"Could not reach {provider.name} to check the API key; nothing was saved.",
        actor_label=COMPANY_USER,
        detail={"client_address": client_address, "detail": detail},
    )
    return LinkResult(
        Outcome.UNREACHABLE,
        connection,
        message=f"We couldn't reach {provider.name}; nothing was saved — please try again.",
        hint="This is usually brief. If it keeps happening, try again in a few minutes.",
    )


@sensitive_variables("secret")
def _scrub(text, secret) -> str:
    """Belt and braces: a provider's technical detail must never carry the key."""
    text = str(text or "")
    return text.replace(secret, "[redacted]") if secret else text


@sensitive_variables("api_key", "text")
def _log_failure(exc, api_key, connection):
    # The traceback is logged by hand, with the key taken out, instead of logger.exception().
    text = "".join(traceback.format_exception(exc))
    logger.error(
        "Validating credentials for connection %s failed unexpectedly:\n%s", connection.pk, _scrub(text, api_key)
    )
