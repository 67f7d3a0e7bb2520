"""API key authentication, as Codat's: `Authorization: Basic <base64 of the key>`.

The SDK sends the header exactly as given (`Security(auth_header="Basic …")`), so the key
is base64-encoded by the client. An unknown, revoked or malformed key answers 401; the key
is looked up by its hash on every request, so a revoked key is refused at once.
"""

import base64
import binascii

from django.views.decorators.debug import sensitive_variables
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from .keys import find_active_key, touch


class ApiKeyPrincipal:
    """request.user for an API request: the key, never a portal user (no permissions, no pages)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, api_key):
        self.api_key = api_key

    def get_username(self):
        return self.api_key.label

    def has_perm(self, perm, obj=None):
        return False

    def __str__(self):
        return self.api_key.label


@sensitive_variables("header", "token", "key")
def key_from_header(header: str) -> str | None:
    """The plaintext key in an `Authorization: Basic …` header, or None when malformed."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        key = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return key.strip() or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    @sensitive_variables("key")
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # NotAuthenticated (401) from the permission check
        key = key_from_header(header)
        row = find_active_key(key) if key else None
        if row is None:
            raise exceptions.AuthenticationFailed("Unauthorized")
        touch(row)
        request._request.api_key = row  # for the request log line (its id, never the key)
        return ApiKeyPrincipal(row), row

    def authenticate_header(self, request):
        return 'Basic realm="api"'


class HasApiKey(permissions.BasePermission):
    """Only requests authenticated by an API key; a portal session never counts."""

    def has_permission(self, request, view):
        return isinstance(request.user, ApiKeyPrincipal)


class HasApiKeyOrPortalRole(permissions.BasePermission):
    """The schema: an API key, or a portal user who may read the portal (Admin, Support)."""

    def has_permission(self, request, view):
        user = request.user
        if isinstance(user, ApiKeyPrincipal):
            return True
        return bool(user and user.is_authenticated and user.has_perm("integrations.view_integration"))


def api_key_of(request):
    """The ApiKey row behind a request."""
    return request.auth


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "auth_header"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'The word "Basic", a space, and your API key encoded in base64.',
        }
