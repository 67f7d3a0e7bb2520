"""Demo companies for `make run`: one in every connection status, linked to the sandbox.

Called by `portal.demo.seed` with Clear Books switched on and the sandbox running
(CLEARBOOKS_WSDL_URL points at it). Idempotent: a demo company that already has a
connection is left as it is, except that a pending one gets a working Link URL again.
The linked company goes through the real Link flow (`submit_credentials`), so its
first-link pulls are queued and the worker fills its data.
"""

from django.db import transaction

from connections import lifecycle, status
from connections.credentials import store_credentials
from connections.events import SYSTEM
from connections.link import Outcome, submit_credentials
from connections.link_urls import can_issue_new_link_url, issue_link_url, link_url
from connections.models import Company, Connection

# The demo is development equipment, like the sandbox whose keys it hands out; the import
# contract (pyproject.toml) keeps production code from importing either.
from integrations.clearbooks.sandbox.keys import demo_key, revoked_demo_key
from integrations.models import Integration
from integrations.registry import CredentialStatus

S = Connection.Status
DEMO_INTEGRATION = "jhch"
DEMO_ADDRESS = "127.0.0.1"  # recorded with the seeding's Link attempts (a successful link counts against nothing)

LINKED = "Hartley & Sons Joinery"
PENDING = "Meadow Lane Bakery"
DEAUTHORIZED = "Northgate Print Co"
UNLINKED = "Riverside Dental Practice"


def seed_companies(stdout):
    """Create demo companies in every state; idempotent. Returns lines to print."""
    integration = Integration.objects.get(key=DEMO_INTEGRATION)
    lines = []
    lines += _seed_linked(integration, demo_key(LINKED))
    lines += _seed_pending(integration, demo_key(PENDING))
    lines += _seed_deauthorized(integration, revoked_demo_key(DEAUTHORIZED))
    lines += _seed_unlinked(integration, demo_key(UNLINKED))
    return lines


def _company_and_connection(name, integration):
    """The demo company and its connection; the connection is None when it must be made."""
    company = Company.objects.filter(name=name).order_by("created_at").first()
    if company is None:
        company = lifecycle.create_company(name, "Demo company (seeded by make run).")
    connection = company.connections.filter(integration=integration).order_by("-created_at").first()
    return company, connection


def _working_token(connection):
    if can_issue_new_link_url(connection):
        issue_link_url(connection)
    return connection.link_token


def _seed_linked(integration, key):
    company, connection = _company_and_connection(LINKED, integration)
    if connection is None:
        connection = lifecycle.create_connection(company, integration)
    if connection.status != S.PENDING_AUTH:
        return [f"Demo: {company.name} is {connection.status}."]
    result = submit_credentials(_working_token(connection), key, DEMO_ADDRESS)
    if result.outcome != Outcome.ACCEPTED:
        return [f"Demo: could not link {company.name} to the sandbox: {result.message} It stays PendingAuth."]
    return [f"Demo: {company.name} is Linked to the Clear Books sandbox; the worker is reading its data."]


def _seed_pending(integration, key):
    company, connection = _company_and_connection(PENDING, integration)
    if connection is None:
        connection = lifecycle.create_connection(company, integration)
    if connection.status != S.PENDING_AUTH:
        return [f"Demo: {company.name} is {connection.status} (it was linked from its Link URL)."]
    _working_token(connection)
    return [
        f"Demo: {company.name} is PendingAuth. Open its Link URL: {link_url(connection)}",
        f"      and paste this sandbox API key: {key}",
    ]


def _link_directly(company, integration, key):
    """Linked without the Link page (and without first-link pulls): for the demo's later states."""
    connection = lifecycle.create_connection(company, integration)
    with transaction.atomic():
        store_credentials(connection, {"api_key": key}, validated_by="link")
        status.move(connection, S.LINKED, reason="Linked for the demo.", actor_label=SYSTEM)
        connection.link_token_used_at = connection.linked_at
        connection.save(update_fields=["link_token_used_at"])
    return connection


def _seed_deauthorized(integration, revoked_key):
    company, connection = _company_and_connection(DEAUTHORIZED, integration)
    if connection is not None:
        return [f"Demo: {company.name} is {connection.status}."]
    connection = _link_directly(company, integration, revoked_key)
    # Ask the sandbox, as a sync would: it rejects the revoked key.
    check = integration.provider.validate_credentials(integration.effective_settings(), {"api_key": revoked_key})
    reason = "Clear Books rejected the API key: it was revoked in Clear Books. The company must relink."
    if check.status != CredentialStatus.REJECTED:
        reason = "The API key was revoked in Clear Books. The company must relink."
    status.move(connection, S.DEAUTHORIZED, reason=reason, actor_label=SYSTEM)
    return [f"Demo: {company.name} is Deauthorized (its sandbox key was revoked)."]


def _seed_unlinked(integration, key):
    company, connection = _company_and_connection(UNLINKED, integration)
    if connection is not None:
        return [f"Demo: {company.name} is {connection.status}."]
    connection = _link_directly(company, integration, key)
    lifecycle.unlink_connection(connection, reason="Unlinked for the demo: the company stopped using the portal.")
    return [f"Demo: {company.name} is Unlinked."]
