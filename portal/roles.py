"""The two roles of the portal, as Django groups with permissions.

Admin can do everything in the portal's apps. Support can read everything and run the
safe actions (refresh data, test a connection, cancel a pull, leave a note).
"""

from django.contrib.auth.models import Group, Permission

ADMIN = "Admin"
SUPPORT = "Support"
ROLES = (ADMIN, SUPPORT)
PORTAL_APPS = ("integrations", "connections", "api", "webhooks")

SUPPORT_ACTIONS = (
    "connections.refresh_data",
    "connections.test_connection",
    "connections.cancel_pull",
    "connections.add_note",
)


def _perms(codenames):
    found = Permission.objects.none()
    for name in codenames:
        app_label, codename = name.split(".")
        found |= Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return found


def ensure_roles(sender=None, **kwargs):
    """Create or update the role groups; idempotent, run after every migrate."""
    if sender is not None and sender.label != "connections":
        return  # run once, after the last of the portal's apps has its permissions
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(Permission.objects.filter(content_type__app_label__in=PORTAL_APPS))
    support, _ = Group.objects.get_or_create(name=SUPPORT)
    view = Permission.objects.filter(content_type__app_label__in=PORTAL_APPS, codename__startswith="view_")
    support.permissions.set(view | _perms(SUPPORT_ACTIONS))


def role_of(user):
    """The user's role name for display: Admin, Support or None."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    names = {g.name for g in user.groups.all()}
    for role in ROLES:
        if role in names:
            return role
    return None
