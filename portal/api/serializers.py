from rest_framework import serializers

from .fields import DateTimeField, StrictCharField


class ApiKeySerializer(serializers.Serializer):
    """A key as listed: never the key itself (only its hash is kept)."""

    id = serializers.UUIDField()
    name = serializers.CharField(allow_null=True, max_length=50)
    createdDate = DateTimeField(source="created_at")
    lastUsedDate = DateTimeField(source="last_used_at", allow_null=True, help_text="Our extension: last use.")

    def to_representation(self, key):
        data = super().to_representation(key)
        data["name"] = data["name"] or None
        return data


class NewApiKeySerializer(ApiKeySerializer):
    apiKey = serializers.CharField(help_text="The key: shown only in this answer, never again.")


class CreateApiKeySerializer(serializers.Serializer):
    name = StrictCharField(max_length=50, allow_null=True, allow_blank=True, required=False)


class ApiKeysSerializer(serializers.Serializer):
    results = ApiKeySerializer(many=True)
