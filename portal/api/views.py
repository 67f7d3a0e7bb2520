"""API keys through the API (`/apiKeys`), and Codat's 404 for any other path under /api/."""

from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import keys
from .errors import ApiError, error_response, not_found
from .models import ApiKey
from .serializers import ApiKeySerializer, ApiKeysSerializer, CreateApiKeySerializer, NewApiKeySerializer

TAGS = ["Settings"]


class ApiKeyList(APIView):
    @extend_schema(operation_id="list-api-keys", summary="List API keys", tags=TAGS, responses=ApiKeysSerializer)
    def get(self, request):
        active = ApiKey.objects.filter(revoked_at__isnull=True).order_by("created_at")
        return Response({"results": ApiKeySerializer(active, many=True).data})

    @extend_schema(
        operation_id="create-api-key",
        summary="Create API key",
        description="The answer holds the key; it is shown only this once. At most 10 keys are active at a time.",
        tags=TAGS,
        request=CreateApiKeySerializer,
        responses={201: NewApiKeySerializer},
    )
    def post(self, request):
        body = CreateApiKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            row, key = keys.create_key(body.validated_data.get("name") or "", actor_name=request.auth.label)
        except keys.TooManyKeys as full:
            raise ApiError(status.HTTP_409_CONFLICT, str(full)) from None
        row.apiKey = key  # only in this answer
        data = NewApiKeySerializer(row).data
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyDetail(APIView):
    @extend_schema(operation_id="delete-api-key", summary="Delete API key", tags=TAGS, responses={204: None})
    def delete(self, request, api_key_id):
        row = ApiKey.objects.filter(pk=api_key_id, revoked_at__isnull=True).first()
        if row is None:
            raise not_found(f"API key {api_key_id} not found")
        keys.revoke_key(row, actor_name=request.auth.label)
        return Response(status=status.HTTP_204_NO_CONTENT)


@csrf_exempt  # an API client has no CSRF token: answer it the 404, not the portal's 403 page
def unknown_path(request):
    """Any other path under /api/: Codat's 404 body instead of the portal's HTML page."""
    return error_response(404, f"No API operation at {request.path}.", request)
