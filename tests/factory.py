"""Plain factory for test data (cf. djangoproject.com's checklists factory): no factory_boy.

Every maker takes overrides as keyword arguments and fills the rest with unique,
valid defaults.
"""

import hashlib
import uuid
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.utils import timezone

from connections.models import Company, Connection, DataStatus, PullOperation, Record
from connections.sync import data_status
from integrations.models import Integration

PASSWORD = "correct-horse-battery-staple"


def make_user(username=None, role=None, **kwargs):
    user = User.objects.create_user(username=username or f"user-{uuid.uuid4().hex[:8]}", password=PASSWORD, **kwargs)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_admin(username="alice", **kwargs):
    return make_user(username, role="Admin", **kwargs)


def make_support(username="sam", **kwargs):
    return make_user(username, role="Support", **kwargs)


def get_integration(key="jhch", enabled=True):
    integration = Integration.objects.get(key=key)
    if integration.enabled != enabled:
        integration.enabled = enabled
        integration.save(update_fields=["enabled"])
    return integration


def make_company(name=None, **kwargs):
    return Company.objects.create(name=name or f"Company {uuid.uuid4().hex[:6]}", **kwargs)


def make_connection(company=None, integration="jhch", status=Connection.Status.LINKED, **kwargs):
    integration = get_integration(integration) if isinstance(integration, str) else integration
    company = company or make_company()
    kwargs.setdefault("linked_at", timezone.now() if status != Connection.Status.PENDING_AUTH else None)
    return Connection.objects.create(
        company=company, integration=integration, category=integration.category, status=status, **kwargs
    )


def make_pull(connection, data_type="invoices", status=PullOperation.Status.COMPLETE, **kwargs):
    now = timezone.now()
    if status not in (PullOperation.Status.QUEUED,):
        kwargs.setdefault("started_at", now)
    if status not in (PullOperation.Status.QUEUED, PullOperation.Status.FETCHING, PullOperation.Status.PROCESSING):
        kwargs.setdefault("finished_at", now)
    kwargs.setdefault("trigger", PullOperation.Trigger.MANUAL)
    return PullOperation.objects.create(connection=connection, data_type=data_type, status=status, **kwargs)


def make_record(connection, data_type="invoices", remote_id=None, **kwargs):
    remote_id = remote_id or uuid.uuid4().hex[:10]
    kwargs.setdefault("number", f"INV{remote_id}")
    kwargs.setdefault("total", Decimal("120.00"))
    kwargs.setdefault("balance", Decimal("0"))
    kwargs.setdefault("attributes", {"invoice_id": remote_id})
    kwargs.setdefault("content_hash", hashlib.sha256(remote_id.encode()).hexdigest())
    return Record.objects.create(connection=connection, data_type=data_type, remote_id=remote_id, **kwargs)


def make_data_status(connection, data_type="invoices", **kwargs):
    """A data status as given, its `scheduled` and `stale_after` computed as the sync engine keeps them."""
    row = DataStatus.objects.create(connection=connection, data_type=data_type, **kwargs)
    data_status.refresh(DataStatus.objects.filter(pk=row.pk))
    row.refresh_from_db(fields=["scheduled", "stale_after"])
    return row
