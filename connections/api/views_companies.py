"""Companies and their connections: list, create, get, replace, update, delete, unlink, authorize."""

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.models import Integration
from portal.api.errors import ApiError, bad_request, not_found
from portal.api.paging import paged
from portal.api.query import DATETIME, EXACT, TEXT, UUID, Field, filtered
from portal.api.schema import LIST_PARAMETERS, paged_schema

from .. import lifecycle
from ..status import IllegalStatusMove
from . import authorization, lookups
from .serializers import (
    CONNECTION_STATUSES,
    CompanyRequestSerializer,
    CompanySerializer,
    ConnectionSerializer,
    CreateConnectionSerializer,
    UpdateAuthorizationSerializer,
    UpdateConnectionStatusSerializer,
)
from .tag_filter import filter_by_tags

COMPANY_FIELDS = {
    "id": Field("id", UUID),
    "name": Field("name", TEXT),
    "description": Field("description", TEXT),
    "created": Field("created_at", DATETIME),
    "lastSync": Field("last_synced_at", DATETIME),
}
CONNECTION_FIELDS = {
    "id": Field("id", UUID),
    "status": Field("status", EXACT, tuple(CONNECTION_STATUSES)),
    "integrationKey": Field("integration__key", EXACT),
    "platformName": Field("integration__name", TEXT),
    "sourceType": Field("category", EXACT),
    "created": Field("created_at", DATETIME),
}
TAGS = ["Companies"]
CONNECTION_TAGS = ["Connections"]


def _company(request, company):
    return CompanySerializer(company, context={"request": request}).data


def _connection(request, connection):
    return ConnectionSerializer(connection, context={"request": request}).data


class CompanyList(APIView):
    @extend_schema(
        operation_id="list-companies",
        summary="List companies",
        tags=TAGS,
        parameters=[
            *LIST_PARAMETERS,
            OpenApiParameter(
                "tags",
                str,
                description=(
                    "Filter by tags with Codat's query language and `=`, `!=` or `~` (contains), e.g. "
                    "`region=uk && team=invoice-finance`. A company without the tag matches `!=`."
                ),
            ),
        ],
        responses=paged_schema("Companies", CompanySerializer),
    )
    def get(self, request):
        companies = filtered(request, lookups.companies(), COMPANY_FIELDS, "Company", ("name", "pk"))
        companies = filter_by_tags(companies, request.query_params.get("tags", ""))
        return Response(paged(request, companies, lambda company: _company(request, company)))

    @extend_schema(
        operation_id="create-company",
        summary="Create company",
        tags=TAGS,
        request=CompanyRequestSerializer,
        responses=CompanySerializer,
    )
    def post(self, request):
        body = CompanyRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        company = lifecycle.create_company(
            data["name"], data.get("description", ""), actor_name=request.auth.label, tags=data.get("tags", {})
        )
        return Response(_company(request, lookups.company_or_404(company.pk, lookups.companies())))


class CompanyDetail(APIView):
    @extend_schema(operation_id="get-company", summary="Get company", tags=TAGS, responses=CompanySerializer)
    def get(self, request, company_id):
        return Response(_company(request, lookups.company_or_404(company_id, lookups.companies())))

    @extend_schema(
        operation_id="replace-company",
        summary="Replace company",
        tags=TAGS,
        request=CompanyRequestSerializer,
        responses=CompanySerializer,
    )
    def put(self, request, company_id):
        return self._save(request, company_id, partial=False)

    @extend_schema(
        operation_id="update-company",
        summary="Update company",
        tags=TAGS,
        request=CompanyRequestSerializer(partial=True),
        responses=CompanySerializer,
    )
    def patch(self, request, company_id):
        return self._save(request, company_id, partial=True)

    def _save(self, request, company_id, *, partial):
        company = lookups.company_or_404(company_id)
        body = CompanyRequestSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        before = lifecycle.company_fields(company)
        if "name" in data:
            company.name = data["name"]
        if "description" in data or not partial:
            company.description = data.get("description", "")
        if "tags" in data or not partial:  # PUT replaces the tags (none given: none kept), PATCH when given
            company.tags = data.get("tags", {})
        lifecycle.save_company_changes(company, before, actor_name=request.auth.label)
        return Response(_company(request, lookups.company_or_404(company.pk, lookups.companies())))

    @extend_schema(operation_id="delete-company", summary="Delete a company", tags=TAGS, responses={204: None})
    def delete(self, request, company_id):
        lifecycle.delete_company(lookups.company_or_404(company_id), actor_name=request.auth.label)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionList(APIView):
    @extend_schema(
        operation_id="list-connections",
        summary="List connections",
        tags=CONNECTION_TAGS,
        parameters=LIST_PARAMETERS,
        responses=paged_schema("Connections", ConnectionSerializer),
    )
    def get(self, request, company_id):
        company = lookups.company_or_404(company_id)
        connections = lookups.connections().filter(company=company)
        connections = filtered(request, connections, CONNECTION_FIELDS, "DataConnection", ("created_at", "pk"))
        return Response(paged(request, connections, lambda connection: _connection(request, connection)))

    @extend_schema(
        operation_id="create-connection",
        summary="Create connection",
        description="A PendingAuth connection with its Link URL (`linkUrl`), as the portal's Add connection.",
        tags=CONNECTION_TAGS,
        request=CreateConnectionSerializer,
        responses=ConnectionSerializer,
    )
    def post(self, request, company_id):
        company = lookups.company_or_404(company_id)
        body = CreateConnectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = body.validated_data["platformKey"]
        integration = Integration.objects.filter(key=key).first()
        if integration is None:
            raise not_found(f"Integration {key} not found")
        try:
            connection = lifecycle.create_connection(company, integration, actor_name=request.auth.label)
        except lifecycle.ConnectionRefused as refused:
            raise bad_request(str(refused), item="platformKey", validator="connection") from None
        return Response(_connection(request, lookups.connection_or_404(company, connection.pk)))


class ConnectionDetail(APIView):
    @extend_schema(
        operation_id="get-connection",
        summary="Get connection",
        tags=CONNECTION_TAGS,
        responses=ConnectionSerializer,
    )
    def get(self, request, company_id, connection_id):
        company = lookups.company_or_404(company_id)
        return Response(_connection(request, lookups.connection_or_404(company, connection_id)))

    @extend_schema(
        operation_id="delete-connection",
        summary="Delete connection",
        tags=CONNECTION_TAGS,
        responses={200: None},
    )
    def delete(self, request, company_id, connection_id):
        connection = lookups.connection_or_404(lookups.company_or_404(company_id), connection_id)
        lifecycle.delete_connection(connection, actor_name=request.auth.label)
        return Response(status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="unlink-connection",
        summary="Unlink connection",
        description="Set `status` to `Unlinked`: the credentials are forgotten, synced data is kept.",
        tags=CONNECTION_TAGS,
        request=UpdateConnectionStatusSerializer,
        responses=ConnectionSerializer,
    )
    def patch(self, request, company_id, connection_id):
        company = lookups.company_or_404(company_id)
        connection = lookups.connection_or_404(company, connection_id)
        body = UpdateConnectionStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        wanted = body.validated_data.get("status")
        if wanted not in (None, connection.Status.UNLINKED):
            raise bad_request("Only Unlinked can be set: a connection is linked through its Link URL.", item="status")
        if wanted is not None and connection.status != connection.Status.UNLINKED:
            label = request.auth.label
            try:
                lifecycle.unlink_connection(
                    connection, reason=f"Unlinked through the API by {label}; synced data is kept.", actor_name=label
                )
            except IllegalStatusMove:
                raise bad_request(
                    f"Only a Linked connection can be unlinked; this one is {connection.status}.", item="status"
                ) from None
        return Response(_connection(request, lookups.connection_or_404(company, connection_id)))


class ConnectionAuthorization(APIView):
    @extend_schema(
        operation_id="update-connection-authorization",
        summary="Update authorization",
        description=(
            'Give the connection its platform credentials (Clear Books: `{"apiKey": "…"}`). The key is checked '
            "live with the platform, as on the Link page; only an accepted key is stored (encrypted) and links "
            "the connection. The answer never holds the key."
        ),
        tags=CONNECTION_TAGS,
        request=UpdateAuthorizationSerializer,
        responses=ConnectionSerializer,
    )
    @method_decorator(sensitive_variables("body"))  # it holds the platform key: never in an error report
    def put(self, request, company_id, connection_id):
        company = lookups.company_or_404(company_id)
        connection = lookups.connection_or_404(company, connection_id)
        body = UpdateAuthorizationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = authorization.update_authorization(
            connection, body.validated_data["apiKey"], actor_label=request.auth.label
        )
        if result.outcome == authorization.UNREACHABLE:
            raise ApiError(status.HTTP_503_SERVICE_UNAVAILABLE, result.message)
        if result.outcome != authorization.ACCEPTED:
            raise bad_request(result.message, item="apiKey", validator="credentials")
        return Response(_connection(request, lookups.connection_or_404(company, connection_id)))
