"""Creating portal users with a role: shared by `adduser` and the demo seed."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from .roles import ROLES, ensure_roles

ROLE_NAMES = {role.lower(): role for role in ROLES}


class AccountError(ValueError):
    """A plain-words reason why a user could not be created or changed."""


def role_group(role: str) -> Group:
    name = ROLE_NAMES.get(role.strip().lower())
    if name is None:
        raise AccountError(f"Unknown role {role!r}: choose one of {', '.join(sorted(ROLE_NAMES))}.")
    group = Group.objects.filter(name=name).first()
    if group is None:  # roles are made by migrate; make them here too on a half-set-up database
        ensure_roles()
        group = Group.objects.get(name=name)
    return group


def check_password(password: str, user) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise AccountError("That password is too weak: " + " ".join(error.messages)) from error


def save_user(username, role, *, password=None, email=None, update=False, validate=True):
    """Create (or with `update`, change) a user with exactly one role; returns (user, created).

    The password is validated by the project's password validators unless `validate`
    is off (the demo seed sets known demo passwords on purpose).
    """
    username = username.strip()
    if not username:
        raise AccountError("Give the user a name.")
    group = role_group(role)
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    created = user is None
    if not created and not update:
        raise AccountError(f"A user called {username!r} already exists. Use --update to change their role or password.")
    if created:
        if not password:
            raise AccountError("A new user needs a password.")
        user = User(username=username)
    if email is not None:
        user.email = email
    if password:
        if validate:
            check_password(password, user)
        user.set_password(password)
    user.save()
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(pk=group.pk))
    user.groups.add(group)
    return user, created
