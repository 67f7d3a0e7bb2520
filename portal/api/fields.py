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
