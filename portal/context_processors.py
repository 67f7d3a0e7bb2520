from .roles import role_of


def roles(request):
    """Expose the viewer's role to every template (for the header and disabled controls)."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    role = role_of(user)
    return {"user_role": role, "is_admin_role": role == "Admin"}
