"""Showing audit values to people: booleans as on/off, nothing as "(empty)", times as times."""

from datetime import datetime

from django import template

from portal.web.templatetags.portal_tags import when

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
    if isinstance(value, str) and "T" in value:
        # Audit changes store times as ISO text (JSON); show them like every other time.
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return when(moment)
    return value
