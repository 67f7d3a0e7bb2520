"""Codat's `tags` filter on the companies list: `tags=region=uk && team=invoice-finance`.

Codat's query language with `=`, `!=` and `~` (contains), any tag name being a field.
Values compare without regard to case, as the other text fields of our queries do. A
company without the tag reads as an empty value: it equals no value given, so it
matches `region!=uk`.
"""

from django.db.models import CharField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from portal.api.errors import ApiError
from portal.api.query import TEXT, Field, parse


class TagFields:
    """The query fields: any name is a tag. Each gets an alias, never an ORM path, so a tag
    named "a__b" or "x.y" stays one key of the JSON map."""

    def __init__(self):
        self.aliases = {}

    def get(self, name, default=None):
        alias = self.aliases.setdefault(name, f"tag_{len(self.aliases)}")
        return Field(alias, TEXT)

    def expressions(self) -> dict:
        return {
            alias: Coalesce(KeyTextTransform(name, "tags"), Value(""), output_field=CharField())
            for name, alias in self.aliases.items()
        }


def filter_by_tags(queryset, text: str):
    """The companies whose tags match Codat's tag query `text` (all of them when it is blank)."""
    if not (text or "").strip():
        return queryset
    fields = TagFields()
    try:
        condition = parse(text, fields, "Company tags")
    except ApiError as refused:  # Codat's 400, naming the parameter that was wrong
        for error in (refused.validation or {}).get("errors", []):
            error["itemId"] = "tags"
        raise
    return queryset.alias(**fields.expressions()).filter(condition)
