"""Serializer fields in Codat's formats."""

from datetime import UTC

from rest_framework import serializers


def codat_datetime(value) -> str | None:
    """ISO 8601 in UTC with a Z, as Codat writes dates ("2022-01-01T12:30:00Z")."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class DateTimeField(serializers.DateTimeField):
    def to_representation(self, value):
        return codat_datetime(value)


class StrictBooleanField(serializers.BooleanField):
    """true or false, as JSON says: not 0, 1, "yes" or "true" (DRF accepts those)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    """A JSON string: not a number or a boolean turned into one."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    default_error_messages = {"not_a_string": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not "24" or 24.0 or true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID written as a JSON string (DRF also takes integers, and so false as 0)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
