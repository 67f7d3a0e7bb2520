"""Wiring: the REST API under /api/ (namespace `api`, both apps' resources), its schema and docs, API keys page.

Every API view is exempt from the portal's login (an API client has no session): each one
authenticates by API key instead (REST_FRAMEWORK settings). The docs page is a portal page:
it needs a login, never a key.
"""

from csp.decorators import csp_update
from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.authentication import SessionAuthentication

from connections.api.urls import urlpatterns as connection_patterns
from connections.webhooks.api_urls import urlpatterns as webhook_patterns
from integrations.api.urls import urlpatterns as integration_patterns
from portal.api import pages, views
from portal.api.authentication import HasApiKeyOrPortalRole
from portal.web.access import require_perm


def _exempt(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = login_not_required(pattern.callback)
    return patterns


api_patterns = _exempt(
    [
        *integration_patterns,
        *connection_patterns,
        *webhook_patterns,
        path("apiKeys", views.ApiKeyList.as_view(), name="apikey-list"),
        path("apiKeys/<uuid:api_key_id>", views.ApiKeyDetail.as_view(), name="apikey-detail"),
        path("schema/", SpectacularAPIView.as_view(), name="schema"),
    ]
)

page_patterns = [
    path("", pages.apikey_list, name="apikey-list"),
    path("<uuid:pk>/revoke/", pages.apikey_revoke, name="apikey-revoke"),
]

# The split view serves Swagger UI's start-up script from this same URL (?script) instead of
# inline, so the docs page keeps the portal's Content-Security-Policy. Its one exception:
# Swagger UI's own stylesheet and bundle draw their icons as data: SVG images.
docs = csp_update({"img-src": ["data:"]})(
    require_perm("integrations.view_integration")(
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema",
            template_name="api/swagger_ui.html",
            authentication_classes=[SessionAuthentication],  # a page: only a login, never a key
            permission_classes=[HasApiKeyOrPortalRole],
        )
    )
)
docs.login_required = True  # DRF marks its views exempt; this one is a portal page, behind the login

urlpatterns = [
    path("api/docs/", docs, name="api-docs"),
    path("api/", include((api_patterns, "api"))),
    re_path(r"^api/", login_not_required(views.unknown_path), name="api-unknown"),
    path("settings/api-keys/", include((page_patterns, "api-keys"))),
]
