"""A company's data: refresh (all, one data type), data status, pull operations, sync settings,
and our extension, the synced records of a connection."""

import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.api import sync_settings as portal_sync_settings
from integrations.registry import Frequency
from portal.api import ids
from portal.api.errors import bad_request, not_found
from portal.api.paging import paged
from portal.api.query import BOOLEAN, DATE, DATETIME, EXACT, NUMBER, TEXT, UUID, Field, filtered, parse_moment
from portal.api.schema import LIST_PARAMETERS, paged_schema

from .. import company_sync_settings
from ..models import Connection, DataStatus, PullOperation, Record
from ..sync import effective
from ..sync.queueing import queue_refresh, refresh_refusal
from . import lookups
from .serializers import (
    DATASET_STATUSES,
    CompanySyncSettingsSerializer,
    CompanySyncSettingsUpdateSerializer,
    DataStatusesSerializer,
    DataStatusSerializer,
    PullOperationSerializer,
    RecordSerializer,
)

TAGS = ["Refresh data"]
PULL_FIELDS = {
    "status": Field("status", EXACT, tuple(DATASET_STATUSES)),
    "dataType": Field("data_type", EXACT),
    "connectionId": Field("connection_id", UUID),
    "requested": Field("requested_at", DATETIME),
    "completed": Field("finished_at", DATETIME),
}
RECORD_FIELDS = {
    "id": Field("remote_id", EXACT),
    "number": Field("number", TEXT),
    "name": Field("name", TEXT),
    "issuedOn": Field("issued_on", DATE),
    "dueOn": Field("due_on", DATE),
    "total": Field("total", NUMBER),
    "balance": Field("balance", NUMBER),
    "currency": Field("currency", EXACT),
    "status": Field("status", TEXT),
    "relatedId": Field("related_id", EXACT),
    "sourceModifiedDate": Field("remote_modified_at", DATETIME),
    "modifiedDate": Field("updated_at", DATETIME),
    "isDeleted": Field("is_deleted", BOOLEAN),
}


def _pulls(company):
    return PullOperation.objects.filter(connection__company=company).select_related("connection")


def _pull(request, pull):
    return PullOperationSerializer(pull, context={"request": request}).data


class RefreshAll(APIView):
    @extend_schema(
        operation_id="refresh-company-data",
        summary="Refresh all data",
        description=(
            "Queues a pull of every data type whose sync setting fetches on first link, for each Linked "
            "connection of the company. A data type already queued or running is not queued again."
        ),
        tags=TAGS,
        request=None,
        responses={204: None},
    )
    def post(self, request, company_id):
        company = lookups.company_or_404(company_id)
        connections = list(Connection.objects.filter(company=company).select_related("integration"))
        ready = [c for c in connections if not refresh_refusal(c)]
        if not ready:
            reason = refresh_refusal(connections[0]) if connections else "This company has no connection."
            raise bad_request(reason, item="companyId", validator="refresh")
        for connection in ready:
            names = effective.first_link_data_types(connection)
            if names:
                queue_refresh(connection, names, actor_label=request.auth.label)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RefreshDataType(APIView):
    @extend_schema(
        operation_id="refresh-data-type",
        summary="Refresh data type",
        description=(
            "Queues a pull of one data type. When that data type is already queued or running, nothing new is "
            "queued and the answer is the pull operation already under way."
        ),
        tags=TAGS,
        request=None,
        parameters=[OpenApiParameter("connectionId", str, description="The connection to refresh (a UUID).")],
        responses=PullOperationSerializer,
    )
    def post(self, request, company_id, data_type):
        company = lookups.company_or_404(company_id)
        connection_id = request.query_params.get("connectionId")
        if connection_id:
            try:
                uuid.UUID(connection_id)
            except ValueError:
                raise bad_request("connectionId must be a UUID.", item="connectionId", validator="uuid") from None
            connections = [lookups.connection_or_404(company, connection_id)]
        else:
            connections = list(
                Connection.objects.filter(company=company, status=Connection.Status.LINKED).select_related(
                    "integration"
                )
            )
        readers = [c for c in connections if c.integration.provider.data_type(data_type) is not None]
        if not readers:
            raise bad_request(
                f"No connection of this company reads the data type {data_type}.", item="dataType", validator="dataType"
            )
        connection = readers[0]
        reason = refresh_refusal(connection)
        if reason:
            raise bad_request(reason, item="connectionId", validator="refresh")
        queued, already = queue_refresh(connection, [data_type], actor_label=request.auth.label)
        pull = (queued or already)[0]
        return Response(_pull(request, PullOperation.objects.select_related("connection").get(pk=pull.pk)))


class DataStatusView(APIView):
    @extend_schema(
        operation_id="get-company-data-status",
        summary="Get data status",
        tags=TAGS,
        responses=DataStatusesSerializer,
    )
    def get(self, request, company_id):
        company = lookups.company_or_404(company_id)
        # Per data type, the newest connection's status, Linked ones first.
        statuses = DataStatus.objects.filter(connection__company=company).select_related("connection")
        chosen = {}
        for row in sorted(
            statuses,
            key=lambda s: (s.connection.status == Connection.Status.LINKED, s.connection.created_at),
            reverse=True,
        ):
            chosen.setdefault(row.data_type, row)
        answer = {}
        for data_type, row in sorted(chosen.items()):
            if not row.current_status:
                row.current_status = "Initial"
            answer[data_type] = DataStatusSerializer(row).data
        return Response(answer)


class PullList(APIView):
    @extend_schema(
        operation_id="list-pull-operations",
        summary="List pull operations",
        tags=TAGS,
        parameters=LIST_PARAMETERS,
        responses=paged_schema("PullOperations", PullOperationSerializer),
    )
    def get(self, request, company_id):
        company = lookups.company_or_404(company_id)
        pulls = filtered(request, _pulls(company), PULL_FIELDS, "Dataset", ("-requested_at", "-id"))
        return Response(paged(request, pulls, lambda pull: _pull(request, pull)))


class PullDetail(APIView):
    @extend_schema(
        operation_id="get-pull-operation",
        summary="Get pull operation",
        tags=TAGS,
        responses=PullOperationSerializer,
    )
    def get(self, request, company_id, dataset_id):
        company = lookups.company_or_404(company_id)
        pull = _pulls(company).filter(pk=ids.pull_pk(dataset_id) or 0).first()
        if pull is None:
            raise not_found(f"Pull operation {dataset_id} not found")
        return Response(_pull(request, pull))


class CompanySyncSettings(APIView):
    """A company's sync settings: its own per data type where it has them, else the portal's."""

    @extend_schema(
        operation_id="get-company-syncSettings",
        summary="Get company sync settings",
        description=(
            "The sync settings in force for the company, one per data type: its own where it has them, else "
            "the portal's (`/profile/syncSettings`). `overridesDefaults` is true when it has any of its own."
        ),
        tags=["Companies"],
        responses=CompanySyncSettingsSerializer,
    )
    def get(self, request, company_id):
        company = lookups.company_or_404(company_id)
        return Response(_company_sync_settings(company))

    @extend_schema(
        operation_id="set-company-syncSettings",
        summary="Set company sync settings",
        description=(
            "With `overridesDefaults: true`, the settings given become the company's own (every data type not "
            "given follows the portal's again); with `false`, the company follows the portal's for every data "
            "type. Recorded in the audit trail and on the timeline of the company's connections."
        ),
        tags=["Companies"],
        request=CompanySyncSettingsUpdateSerializer,
        responses={204: None},
    )
    def post(self, request, company_id):
        company = lookups.company_or_404(company_id)
        body = CompanySyncSettingsUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data["companyId"] != company.pk:
            raise bad_request("companyId must be the company of the URL.", item="companyId", validator="companyId")
        wanted = {}
        if data["overridesDefaults"]:
            try:
                wanted = portal_sync_settings.wanted(data["settings"])
            except portal_sync_settings.UnknownSetting as unknown:
                raise bad_request(str(unknown), item=unknown.item, validator="syncSetting") from None
        company_sync_settings.replace_settings(company, wanted, actor_name=request.auth.label)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _company_sync_settings(company) -> dict:
    settings = company_sync_settings.settings_of(company)
    return {
        "companyId": str(company.pk),
        "settings": [
            {
                "dataType": setting.data_type,
                "fetchOnFirstLink": setting.fetch_on_first_link,
                "syncSchedule": portal_sync_settings.HOURS[Frequency(setting.frequency)],
                "syncOrder": order,
            }
            for order, setting in enumerate(settings)
        ],
        "overridesDefaults": any(setting.own is not None for setting in settings),
    }


class RecordList(APIView):
    @extend_schema(
        operation_id="list-connection-records",
        summary="List synced records (extension)",
        description=(
            "Our extension to Codat's API: the records synced for one connection and data type, in the "
            "portal's normalised shape, paged. `query` filters on the record fields (e.g. `total>100 && "
            "currency=GBP`); `modifiedDate` answers only records changed in the portal since then (an "
            "incremental read). Deleted records are kept and flagged `isDeleted: true`."
        ),
        tags=["Data (extension)"],
        parameters=[
            *LIST_PARAMETERS,
            OpenApiParameter(
                "modifiedDate", str, description="ISO 8601 date-time: only records changed since (inclusive)."
            ),
        ],
        responses=paged_schema("Records", RecordSerializer),
    )
    def get(self, request, company_id, connection_id, data_type):
        connection = lookups.connection_or_404(lookups.company_or_404(company_id), connection_id)
        if connection.integration.provider.data_type(data_type) is None:
            raise not_found(f"No data available for {data_type} for ID {connection.pk}")
        records = Record.objects.filter(connection=connection, data_type=data_type)
        since = request.query_params.get("modifiedDate")
        if since:
            moment = parse_moment(since)
            if moment is None:
                raise bad_request(
                    "modifiedDate must be an ISO 8601 date or date-time, e.g. 2025-01-31T12:00:00Z (UTC if no offset).",
                    item="modifiedDate",
                    validator="datetime",
                )
            records = records.filter(updated_at__gte=moment)
        records = filtered(request, records, RECORD_FIELDS, "Record", ("remote_id", "pk"))
        return Response(paged(request, records, lambda record: RecordSerializer(record).data))
