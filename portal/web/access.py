"""Access rules shared by every app, so no app reaches into another's views."""

from django.contrib.auth.decorators import permission_required


def require_perm(perm):
    """403 for a logged-in user without `perm` (anonymous users never get here:
    the login-required middleware sends them to the login page first)."""
    return permission_required(perm, raise_exception=True)
