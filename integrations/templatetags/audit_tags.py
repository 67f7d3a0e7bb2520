"""Showing audit values to people: booleans as on/off, nothing as "(empty)"."""

from django import template

register = template.Library()


@register.filter
def audit_value(value, field=""):
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        # The switch reads as on/off; every other yes/no setting as yes/no.
        if field == "enabled":
            return "on" if value else "off"
        return "yes" if value else "no"
    return value
