"""Ids Codat gives as UUIDs where the portal has other keys: stable, derived, reversible where needed.

Pull operations have integer keys; the API shows them as the UUID of that integer
(`00000000-0000-0000-0000-00000000002a` for 42), so `datasetId` keeps Codat's format.
"""

import uuid

from django.conf import settings

NAMESPACE = uuid.UUID("6b1f0c8e-4c1b-5b7e-9a55-3f2d3b0c1a77")


def integration_id(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"integration:{key}"))


def source_id(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"source:{key}"))


def client_id() -> str:
    return str(uuid.uuid5(NAMESPACE, f"client:{settings.PORTAL_BASE_URL}"))


def pull_uuid(pk) -> str | None:
    return str(uuid.UUID(int=pk)) if pk is not None else None


def pull_pk(value) -> int | None:
    """The pull's integer key from its API id, or None when it is not one of ours."""
    try:
        number = uuid.UUID(str(value)).int
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None
