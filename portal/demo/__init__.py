"""The demo a fresh `make run` shows: demo users, Clear Books switched on, demo companies.

Idempotent: run it again and the same users (with the same printed passwords) exist,
nothing is duplicated. Never run it against a production database: the demo passwords
are printed on every start.
"""

from integrations import services
from integrations.catalogue import sync_catalogue
from integrations.models import Integration

from ..accounts import save_user
from ..roles import ADMIN, SUPPORT
from .companies import seed_companies

DEMO_USERS = (
    # (username, role, password): printed by `make run`, so they are no secret.
    ("admin", ADMIN, "admin-demo-password"),
    ("support", SUPPORT, "support-demo-password"),
)
DEMO_INTEGRATION = "jhch"


def seed(stdout) -> list[str]:
    """Seed the demo; return the lines worth printing (logins, Link URLs, sandbox keys)."""
    sync_catalogue()
    users = {}
    for username, role, password in DEMO_USERS:
        users[username], _ = save_user(username, role, password=password, update=True, validate=False)
    integration = Integration.objects.get(key=DEMO_INTEGRATION)
    if not integration.enabled:
        services.set_enabled(integration, True, None)  # recorded as done by "system"
    lines = [f"Log in as {username!r} ({role}), password {password!r}" for username, role, password in DEMO_USERS]
    lines += [str(line) for line in (seed_companies(stdout) or [])]
    return lines
