"""Creating, unlinking and deleting companies and connections, each with its audit event.

Views, commands and the demo call these, so every entry point records the same
timeline entries and audit events.
"""

from django.db import IntegrityError, transaction

from integrations import audit

from . import signals, status
from .credentials import wipe_credentials
from .events import record_event
from .forms import active_connection_in_category, one_active_message
from .link_urls import issue_link_url
from .models import Company, Connection, ConnectionEvent, PullOperation, Record

S = Connection.Status
Action = audit.Action


class ConnectionRefused(Exception):
    """A connection cannot be added (integration off, or one already active in the category)."""


def create_company(name, description="", user=None, *, actor_name=None, tags=None) -> Company:
    """A new company (tags already checked by `tags.tag_errors`), with its audit event."""
    with transaction.atomic():
        company = Company.objects.create(name=name, description=description, created_by=user, tags=tags or {})
        signals.company_created.send(Company, company=company)
        audit.record(
            Action.COMPANY_CREATED,
            actor=user,
            actor_name=actor_name,
            target=company.name,
            target_id=company.pk,
            changes=[{"field": "name", "before": None, "after": company.name}]
            + audit.diff({}, company.tags, prefix="tag "),
        )
    return company


def company_fields(company) -> dict:
    """What an edit may change, as it is now: pass it to `save_company_changes` as `before`."""
    return {"name": company.name, "description": company.description, "tags": dict(company.tags or {})}


def _changes(before, company) -> list[dict]:
    after = company_fields(company)
    tags_before, tags_after = before.get("tags") or {}, after.pop("tags")
    return audit.diff({k: before.get(k) for k in after}, after) + audit.diff(tags_before, tags_after, prefix="tag ")


def save_company_changes(company, before: dict, user=None, *, actor_name=None) -> Company:
    """Save an edited company and audit the fields that changed, each tag its own (nothing when none did)."""
    changes = _changes(before, company)
    with transaction.atomic():
        company.save(update_fields=["name", "description", "tags"])
        if changes:
            audit.record(
                Action.COMPANY_CHANGED,
                actor=user,
                actor_name=actor_name,
                target=company.name,
                target_id=company.pk,
                changes=changes,
            )
    return company


def company_deletion_summary(company) -> dict:
    """How much deleting a company removes: its connections, their synced records and pulls."""
    return {
        "connections": Connection.objects.filter(company=company).count(),
        "records": Record.objects.filter(connection__company=company).count(),
        "pulls": PullOperation.objects.filter(connection__company=company).count(),
    }


def connection_deletion_summary(connection) -> dict:
    return {
        "connections": 1,
        "records": Record.objects.filter(connection=connection).count(),
        "pulls": PullOperation.objects.filter(connection=connection).count(),
    }


def delete_company(company, user=None, *, actor_name=None) -> dict:
    summary = company_deletion_summary(company)
    with transaction.atomic():
        # Records first, in one statement: nothing refers to them, so no per-row cascade work.
        Record.objects.filter(connection__company=company).delete()
        # Its connections go with it: each is announced as deleting one alone is, before the company.
        for connection in company.connections.select_related("company", "integration").order_by("created_at"):
            signals.connection_deleted.send(Connection, connection=connection)
        signals.company_deleted.send(Company, company=company)
        name, pk = company.name, company.pk
        company.delete()
        audit.record(
            Action.COMPANY_DELETED,
            actor=user,
            actor_name=actor_name,
            target=name,
            target_id=pk,
            changes=[
                {"field": "connections", "before": summary["connections"], "after": 0},
                {"field": "records", "before": summary["records"], "after": 0},
            ],
        )
    return summary


def create_connection(company, integration, user=None, *, actor_name=None) -> Connection:
    """Add a PendingAuth connection with a Link URL; raises ConnectionRefused with a sentence."""
    reason = integration.refuse_new_links_reason()
    if reason:
        raise ConnectionRefused(reason)
    clash = active_connection_in_category(company, integration.category)
    if clash is not None:
        raise ConnectionRefused(one_active_message(company, clash))
    try:
        with transaction.atomic():
            connection = Connection.objects.create(
                company=company,
                integration=integration,
                category=integration.category,
                status=S.PENDING_AUTH,
                created_by=user,
            )
            record_event(
                connection,
                ConnectionEvent.Kind.CREATED,
                f"Connection to {integration.name} created.",
                actor=user,
                actor_label=actor_name,
            )
            audit.record(
                Action.CONNECTION_CREATED,
                actor=user,
                actor_name=actor_name,
                integration=integration,
                target=str(connection),
                target_id=connection.pk,
                changes=[{"field": "status", "before": None, "after": S.PENDING_AUTH}],
            )
            issue_link_url(connection, user, actor_name=actor_name)
            signals.connection_created.send(Connection, connection=connection)
    except IntegrityError:
        # Another request added one between our check and our insert: the constraint held.
        clash = active_connection_in_category(company, integration.category)
        message = one_active_message(company, clash) if clash else "The connection could not be added; try again."
        raise ConnectionRefused(message) from None
    return connection


def unlink_connection(connection, user=None, reason="", *, actor_name=None) -> Connection:
    """Give up access on purpose: Unlinked, credentials wiped, synced data kept.

    Schedules stop by themselves: only Linked connections are scheduled. Raises
    status.IllegalStatusMove for a connection that is not Linked.
    """
    reason = reason or "Unlinked by an admin; synced data is kept."
    with transaction.atomic():
        before = connection.status
        status.move(connection, S.UNLINKED, reason=reason, actor=user, actor_label=actor_name)
        wipe_credentials(connection)
        audit.record(
            Action.CONNECTION_UNLINKED,
            actor=user,
            actor_name=actor_name,
            integration=connection.integration,
            target=str(connection),
            target_id=connection.pk,
            changes=[{"field": "status", "before": before, "after": S.UNLINKED}],
        )
    return connection


def delete_connection(connection, user=None, *, actor_name=None) -> dict:
    summary = connection_deletion_summary(connection)
    with transaction.atomic():
        Record.objects.filter(connection=connection).delete()
        signals.connection_deleted.send(Connection, connection=connection)
        target, pk, integration = str(connection), connection.pk, connection.integration
        connection.delete()
        audit.record(
            Action.CONNECTION_DELETED,
            actor=user,
            actor_name=actor_name,
            integration=integration,
            target=target,
            target_id=pk,
            changes=[{"field": "records", "before": summary["records"], "after": 0}],
        )
    return summary
