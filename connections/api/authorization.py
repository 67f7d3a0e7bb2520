"""Update a connection's authorization through the API: the Link page's live check, for an API client.

The key is validated live by the provider, exactly as on the Link page
(`provider.validate_credentials` with the integration's settings). A valid key is stored
encrypted (`credentials.store_credentials`), the connection moves to Linked and the
first-link pulls are queued; a rejected or unchecked key stores nothing and leaves the
status alone. Each attempt goes on the timeline with the Link page's sentences, attributed
to the API key. The key itself is never logged, stored in clear or answered.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables

from integrations.registry import CredentialStatus

from ..events import record_event
from ..forms import active_connection_in_category, one_active_message
from ..link import accept_credentials
from ..models import Connection, ConnectionEvent

logger = logging.getLogger(__name__)

S = Connection.Status
ACCEPTED, REJECTED, UNREACHABLE, REFUSED = "accepted", "rejected", "unreachable", "refused"


@dataclass
class AuthorizationResult:
    outcome: str
    connection: Connection
    message: str = ""


def _scrub(text, secret) -> str:
    text = str(text or "")
    return text.replace(secret, "[redacted]") if secret else text


def refusal(connection) -> str:
    """Empty when credentials may be given now; otherwise a sentence saying why not."""
    reason = connection.integration.refuse_new_links_reason()
    if reason:
        return reason
    if connection.status in (S.UNLINKED, S.DEAUTHORIZED):
        clash = active_connection_in_category(connection.company, connection.category)
        if clash is not None and clash.pk != connection.pk:
            return one_active_message(connection.company, clash)
    return ""


@sensitive_variables("api_key", "credentials")
def update_authorization(connection, api_key: str, *, actor_label: str) -> AuthorizationResult:
    reason = refusal(connection)
    if reason:
        return AuthorizationResult(REFUSED, connection, reason)
    integration = connection.integration
    provider = integration.provider
    credentials = {"api_key": api_key}
    try:
        check = provider.validate_credentials(integration.effective_settings(), credentials)
    except Exception as exc:  # noqa: BLE001  a bug in the provider must not leak the key in a traceback
        logger.error("Validating credentials for connection %s failed unexpectedly: %s", connection.pk, type(exc))
        check = None
    if check is not None and check.status == CredentialStatus.VALID:
        return _accept(connection, credentials, actor_label)
    if check is not None and check.status == CredentialStatus.REJECTED:
        record_event(
            connection,
            ConnectionEvent.Kind.LINK_REJECTED,
            f"{provider.name} did not accept the API key that was submitted; nothing was saved.",
            actor_label=actor_label,
            detail={"detail": _scrub(check.detail, api_key), "via": "api"},
        )
        return AuthorizationResult(REJECTED, connection, f"{provider.name} did not accept this API key.")
    detail = _scrub(check.detail if check else "the provider raised an unexpected error", api_key)
    record_event(
        connection,
        ConnectionEvent.Kind.LINK_UNREACHABLE,
        f"Could not reach {provider.name} to check the API key; nothing was saved.",
        actor_label=actor_label,
        detail={"detail": detail, "via": "api"},
    )
    return AuthorizationResult(
        UNREACHABLE, connection, f"We couldn't reach {provider.name}; nothing was saved — please try again."
    )


def _api_reason(relink):
    return "Relinked with a new API key through the API." if relink else "Linked through the API."


@sensitive_variables("credentials")
def _accept(connection, credentials, actor_label) -> AuthorizationResult:
    try:
        with transaction.atomic():
            locked = (
                Connection.objects.select_for_update().select_related("integration", "company").get(pk=connection.pk)
            )
            accept_credentials(locked, credentials, actor_label=actor_label, reason=_api_reason, via="api")
    except IntegrityError:
        # Another connection in the category became active meanwhile: the constraint held.
        return AuthorizationResult(REFUSED, connection, refusal(connection) or "Try again.")
    return AuthorizationResult(ACCEPTED, locked, f"Your {locked.integration.name} books are now linked.")
