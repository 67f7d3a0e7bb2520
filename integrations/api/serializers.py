"""Integrations as Codat's Platform API shows them."""

from django.templatetags.static import static
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api import ids
from portal.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField, StrictUUIDField

SOURCE_TYPES = ["Accounting", "Banking", "BankFeed", "Commerce", "Expense", "Other", "Unknown"]
FEATURE_TYPES = ["Get", "Post", "Categorization", "Delete", "Put", "GetAsPdf", "DownloadAttachment",
                 "GetAttachment", "GetAttachments", "UploadAttachment"]  # fmt: skip
FEATURE_STATES = ["Release", "Alpha", "Beta", "Deprecated", "NotSupported", "NotImplemented"]


def source_type(category: str) -> str:
    return category if category in SOURCE_TYPES else "Other"


class SupportedFeatureSerializer(serializers.Serializer):
    featureType = serializers.ChoiceField(choices=FEATURE_TYPES)
    featureState = serializers.ChoiceField(choices=FEATURE_STATES)


class DataTypeFeatureSerializer(serializers.Serializer):
    dataType = serializers.CharField()
    supportedFeatures = SupportedFeatureSerializer(many=True)


class IntegrationSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The platform key: four lower-case letters.")
    logoUrl = serializers.SerializerMethodField()
    name = serializers.CharField()
    enabled = serializers.BooleanField()
    sourceId = serializers.SerializerMethodField()
    sourceType = serializers.SerializerMethodField()
    integrationId = serializers.SerializerMethodField()
    isOfflineConnector = serializers.SerializerMethodField()
    isBeta = serializers.SerializerMethodField()
    dataProvidedBy = serializers.SerializerMethodField()
    datatypeFeatures = serializers.SerializerMethodField()

    @extend_schema_field(serializers.URLField())
    def get_logoUrl(self, integration) -> str:
        path = static(integration.provider.logo)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(serializers.UUIDField())
    def get_sourceId(self, integration) -> str:
        return ids.source_id(integration.key)

    @extend_schema_field(serializers.ChoiceField(choices=SOURCE_TYPES))
    def get_sourceType(self, integration) -> str:
        return source_type(integration.category)

    @extend_schema_field(serializers.UUIDField())
    def get_integrationId(self, integration) -> str:
        return ids.integration_id(integration.key)

    def get_isOfflineConnector(self, integration) -> bool:
        return False

    def get_isBeta(self, integration) -> bool:
        return False

    def get_dataProvidedBy(self, integration) -> str:
        return integration.provider.name

    @extend_schema_field(DataTypeFeatureSerializer(many=True))
    def get_datatypeFeatures(self, integration):
        return [
            {"dataType": dt.name, "supportedFeatures": [{"featureType": "Get", "featureState": "Release"}]}
            for dt in integration.provider.data_types
        ]


class SyncSettingSerializer(serializers.Serializer):
    """One data type's sync setting; `syncSchedule` is in hours (0: only when asked)."""

    dataType = StrictCharField()
    fetchOnFirstLink = StrictBooleanField()
    syncSchedule = StrictIntegerField(help_text="Hours between syncs: 0 (never on its own), 1, 24, 168 or 720.")
    syncOrder = StrictIntegerField(required=False, default=0)
    syncFromUtc = StrictCharField(required=False)
    syncFromWindow = StrictIntegerField(required=False)
    monthsToSync = StrictIntegerField(required=False)
    isLocked = StrictBooleanField(required=False)


class SyncSettingsSerializer(serializers.Serializer):
    clientId = serializers.UUIDField()
    settings = SyncSettingSerializer(many=True)
    overridesDefaults = serializers.BooleanField()


class SyncSettingsUpdateSerializer(serializers.Serializer):
    clientId = StrictUUIDField()
    settings = SyncSettingSerializer(many=True)
    overridesDefaults = StrictBooleanField(default=True)
