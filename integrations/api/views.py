"""Integrations (list, get) and the portal's sync settings (`/profile/syncSettings`)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import ids
from portal.api.errors import bad_request, not_found
from portal.api.paging import paged
from portal.api.query import BOOLEAN, EXACT, TEXT, Field, filtered
from portal.api.schema import LIST_PARAMETERS, paged_schema

from .. import registry
from ..models import Integration
from . import sync_settings
from .serializers import SOURCE_TYPES, IntegrationSerializer, SyncSettingsSerializer, SyncSettingsUpdateSerializer

FIELDS = {
    "key": Field("key", EXACT),
    "name": Field("name", TEXT),
    "enabled": Field("enabled", BOOLEAN),
    "sourceType": Field("category", EXACT, tuple(SOURCE_TYPES)),
}


def _with_provider(queryset):
    """Rows whose provider code is installed (a row outlives a removed provider)."""
    return queryset.filter(key__in=[provider.key for provider in registry.all_providers()])


class IntegrationList(APIView):
    @extend_schema(
        operation_id="list-integrations",
        summary="List integrations",
        tags=["Integrations"],
        parameters=LIST_PARAMETERS,
        responses=paged_schema("Integrations", IntegrationSerializer),
    )
    def get(self, request):
        integrations = filtered(request, _with_provider(Integration.objects.all()), FIELDS, "Integration", ("name",))
        context = {"request": request}
        return Response(paged(request, integrations, lambda i: IntegrationSerializer(i, context=context).data))


class IntegrationDetail(APIView):
    @extend_schema(
        operation_id="get-integration",
        summary="Get integration",
        tags=["Integrations"],
        parameters=[OpenApiParameter("platformKey", str, OpenApiParameter.PATH, pattern="^[a-z]{4}$")],
        responses=IntegrationSerializer,
    )
    def get(self, request, platform_key):
        integration = _with_provider(Integration.objects.filter(key=platform_key)).first()
        if integration is None:
            raise not_found(f"Integration {platform_key} not found")
        return Response(IntegrationSerializer(integration, context={"request": request}).data)


class ProfileSyncSettings(APIView):
    @extend_schema(
        operation_id="get-profile-syncSettings",
        summary="Get sync settings",
        tags=["Settings"],
        responses=SyncSettingsSerializer,
    )
    def get(self, request):
        return Response(
            {"clientId": ids.client_id(), "settings": sync_settings.portal_settings(), "overridesDefaults": False}
        )

    @extend_schema(
        operation_id="update-profile-syncSettings",
        summary="Update all sync settings",
        description="The same settings each integration's Manage page edits; recorded in the audit trail.",
        tags=["Settings"],
        request=SyncSettingsUpdateSerializer,
        responses={204: None},
    )
    def post(self, request):
        body = SyncSettingsUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            sync_settings.update_portal_settings(body.validated_data["settings"], actor_name=request.auth.label)
        except sync_settings.UnknownSetting as unknown:
            raise bad_request(str(unknown), item=unknown.item, validator="syncSetting") from None
        return Response(status=status.HTTP_204_NO_CONTENT)
