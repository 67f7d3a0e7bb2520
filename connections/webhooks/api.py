"""Codat's `/webhooks` operations (list, create, delete) and ours beside them: get, enable/disable,
rotate the secret, send a test event, the delivery log, and replay.

A secret is in exactly two answers, creation and rotation; never in a list, a get or an error.
"""

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.errors import ApiError, bad_request, not_found
from portal.api.fields import DateTimeField, StrictBooleanField
from portal.api.paging import paged

from . import endpoints, log
from .models import Endpoint, Message

TAGS = ["Webhooks"]


class WebhookConsumerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    disabled = serializers.BooleanField()
    eventTypes = serializers.ListField(source="event_types", child=serializers.CharField())
    companyTags = serializers.ListField(source="company_tags", child=serializers.CharField())
    # Ours: why it is disabled, and the secret's fingerprint (never the secret).
    disabledReason = serializers.CharField(source="disabled_reason")
    secretFingerprint = serializers.CharField(source="secret_fingerprint")


class NewWebhookConsumerSerializer(WebhookConsumerSerializer):
    secret = serializers.CharField(help_text="The signing secret (whsec_…): in this answer only.")


class WebhookConsumersSerializer(serializers.Serializer):
    results = WebhookConsumerSerializer(many=True)


class WebhookConsumerPrototypeSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    disabled = StrictBooleanField(required=False, allow_null=True, default=False)
    eventTypes = serializers.ListField(child=serializers.CharField(max_length=60), max_length=20)
    companyTags = serializers.ListField(
        child=serializers.CharField(max_length=128), max_length=10, required=False, allow_null=True
    )


class UpdateWebhookConsumerSerializer(serializers.Serializer):
    disabled = StrictBooleanField()


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField()
    secretFingerprint = serializers.CharField()


class ReplaySerializer(serializers.Serializer):
    since = DateTimeField(help_text="Every failed message of events generated from this time on (14 days kept).")


class ReplayedSerializer(serializers.Serializer):
    replayed = serializers.IntegerField()


class AttemptSerializer(serializers.Serializer):
    started = DateTimeField(source="started_at")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    durationMs = serializers.IntegerField(source="duration_ms")
    ok = serializers.BooleanField()
    error = serializers.CharField()
    responseStart = serializers.CharField(source="response_start")
    trigger = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    eventId = serializers.UUIDField(source="event_id")
    eventType = serializers.CharField(source="event.event_type")
    generatedDate = DateTimeField(source="event.generated_at")
    companyId = serializers.UUIDField(source="event.company_id", allow_null=True)
    status = serializers.CharField()
    attempts = serializers.SerializerMethodField()

    def get_attempts(self, message) -> list[dict]:
        return AttemptSerializer(message.attempt_log.all(), many=True).data


def _endpoint(webhook_id) -> Endpoint:
    found = Endpoint.objects.filter(pk=webhook_id).first()
    if found is None:
        raise not_found(f"No webhook consumer was found with ID {webhook_id}.")
    return found


def _refused(refused: endpoints.EndpointRefused):
    items = [{"itemId": field, "message": text, "validatorName": None} for field, text in refused.errors.items()]
    return ApiError(status.HTTP_400_BAD_REQUEST, str(refused), validation={"errors": items, "warnings": []})


class WebhookList(APIView):
    @extend_schema(
        operation_id="list-webhook-consumers", summary="List webhook consumers", tags=TAGS,
        responses=WebhookConsumersSerializer,
    )  # fmt: skip
    def get(self, request):
        return Response({"results": WebhookConsumerSerializer(Endpoint.objects.all()[:50], many=True).data})

    @extend_schema(
        operation_id="create-webhook-consumer",
        summary="Create webhook consumer",
        description="The answer holds the signing secret (`secret`); it is shown only this once.",
        tags=TAGS,
        request=WebhookConsumerPrototypeSerializer,
        responses={201: NewWebhookConsumerSerializer},
    )
    def post(self, request):
        body = WebhookConsumerPrototypeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            endpoint, secret = endpoints.create(
                data["url"], data["eventTypes"], data.get("companyTags") or [],
                disabled=bool(data.get("disabled")), actor_name=request.auth.label,
            )  # fmt: skip
        except endpoints.EndpointRefused as refused:
            raise _refused(refused) from None
        endpoint.secret = secret  # only in this answer
        return Response(NewWebhookConsumerSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetail(APIView):
    @extend_schema(
        operation_id="get-webhook-consumer", summary="Get webhook consumer", tags=TAGS,
        responses=WebhookConsumerSerializer,
    )  # fmt: skip
    def get(self, request, webhook_id):
        return Response(WebhookConsumerSerializer(_endpoint(webhook_id)).data)

    @extend_schema(
        operation_id="update-webhook-consumer",
        summary="Enable or disable a webhook consumer",
        tags=TAGS,
        request=UpdateWebhookConsumerSerializer,
        responses=WebhookConsumerSerializer,
    )
    def patch(self, request, webhook_id):
        endpoint = _endpoint(webhook_id)
        body = UpdateWebhookConsumerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoints.set_disabled(endpoint, body.validated_data["disabled"], actor_name=request.auth.label)
        return Response(WebhookConsumerSerializer(endpoint).data)

    @extend_schema(
        operation_id="delete-webhook-consumer", summary="Delete webhook consumer", tags=TAGS, responses={204: None}
    )
    def delete(self, request, webhook_id):
        endpoints.delete(_endpoint(webhook_id), actor_name=request.auth.label)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecret(APIView):
    @extend_schema(
        operation_id="rotate-webhook-secret",
        summary="Rotate a webhook consumer's signing secret",
        description="A new secret, in this answer only; the previous one keeps signing for 24 hours.",
        tags=TAGS,
        request=None,
        responses={201: SecretSerializer},
    )
    def post(self, request, webhook_id):
        endpoint = _endpoint(webhook_id)
        secret = endpoints.rotate_secret(endpoint, actor_name=request.auth.label)
        data = {"secret": secret, "secretFingerprint": endpoint.secret_fingerprint}
        return Response(data, status=status.HTTP_201_CREATED)


class WebhookTest(APIView):
    @extend_schema(
        operation_id="send-webhook-test-event", summary="Send a test event", tags=TAGS, request=None,
        responses={202: MessageSerializer},
    )  # fmt: skip
    def post(self, request, webhook_id):
        endpoint = _endpoint(webhook_id)
        if endpoint.disabled:
            raise bad_request("The webhook consumer is disabled: enable it first.", item="disabled")
        event = endpoints.send_test(endpoint)
        return Response(MessageSerializer(event.messages.get()).data, status=status.HTTP_202_ACCEPTED)


class WebhookMessages(APIView):
    @extend_schema(
        operation_id="list-webhook-messages",
        summary="The delivery log of a webhook consumer",
        tags=TAGS,
        parameters=[
            OpenApiParameter("eventType", str),
            OpenApiParameter("status", str, enum=[s.value for s in Message.Status]),
            OpenApiParameter("companyId", str),
            OpenApiParameter("page", int),
            OpenApiParameter("pageSize", int),
        ],
        responses=MessageSerializer(many=True),
    )
    def get(self, request, webhook_id):
        endpoint = _endpoint(webhook_id)
        try:
            messages = log.messages(endpoint, log.Filters.from_query(request.query_params))
        except ValueError as bad:
            raise bad_request(str(bad)) from None
        return Response(paged(request, messages, lambda m: MessageSerializer(m).data))


class WebhookReplay(APIView):
    @extend_schema(
        operation_id="replay-webhook-messages",
        summary="Resend every failed message since a time",
        tags=TAGS,
        request=ReplaySerializer,
        responses={202: ReplayedSerializer},
    )
    def post(self, request, webhook_id):
        endpoint = _endpoint(webhook_id)
        since = parse_datetime(str(request.data.get("since", ""))) if isinstance(request.data, dict) else None
        if since is None or since.tzinfo is None:
            raise bad_request("Give `since` as a date and time with a zone, e.g. 2026-01-31T09:00:00Z.", item="since")
        try:
            count = endpoints.replay_failed_since(endpoint, since)
        except endpoints.ReplayRefused as refused:
            raise bad_request(str(refused)) from None
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)


class WebhookMessageReplay(APIView):
    @extend_schema(
        operation_id="replay-webhook-message", summary="Resend one message", tags=TAGS, request=None,
        responses={202: ReplayedSerializer},
    )  # fmt: skip
    def post(self, request, webhook_id, message_id):
        endpoint = _endpoint(webhook_id)
        message = Message.objects.filter(pk=message_id, endpoint=endpoint).select_related("endpoint").first()
        if message is None:
            raise not_found(f"No message was found with ID {message_id}.")
        try:
            count = endpoints.replay_one(message)
        except endpoints.ReplayRefused as refused:
            raise bad_request(str(refused)) from None
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)
