"""Test connection: re-validate a connection's stored credentials with its platform.

The result goes into the timeline. The status changes only when the platform rejects
the credentials of a Linked connection (Linked → Deauthorized); an unreachable platform
changes nothing, so a network blip never sends a company to relink.
"""

from integrations.registry import CredentialCheck, CredentialStatus

from . import status as statuses
from .credentials import CredentialsUnreadable, connection_credentials, mark_validated
from .events import record_event
from .models import Connection, ConnectionEvent

S = Connection.Status


class NothingToTest(Exception):
    """The connection holds no credentials (never linked, or unlinked)."""


def recheck_credentials(connection, user) -> CredentialCheck:
    """Validate the stored credentials live, record the outcome and return it."""
    integration = connection.integration
    name = integration.name
    try:
        credentials = connection_credentials(connection)
    except CredentialsUnreadable as error:
        return _record(connection, user, CredentialCheck(CredentialStatus.UNREACHABLE, str(error)), "unreadable")
    if not credentials:
        raise NothingToTest("No credentials are stored for this connection, so there is nothing to test.")
    check = integration.provider.validate_credentials(integration.effective_settings(), credentials)
    if check.status == CredentialStatus.VALID:
        mark_validated(connection, "test")
        message = f"{name} accepted the stored credentials."
        if connection.status != S.LINKED:
            message += f" The status stays {connection.status}: only relinking through a Link URL changes it."
        return _record(connection, user, check, "valid", message)
    if check.status == CredentialStatus.REJECTED:
        message = f"{name} rejected the stored credentials: {check.message}".rstrip(": ")
        _record(connection, user, check, "rejected", message)
        if connection.status == S.LINKED:
            statuses.move(connection, S.DEAUTHORIZED, reason=f"{name} rejected the credentials on a test.", actor=user)
        return check
    message = f"Could not reach {name}; nothing was changed. {check.message}".strip()
    return _record(connection, user, check, "unreachable", message)


def _record(connection, user, check, result, message=None):
    record_event(
        connection,
        ConnectionEvent.Kind.TEST,
        message or check.message,
        actor=user,
        detail={"result": result, "detail": check.detail[:500]},
    )
    return check
