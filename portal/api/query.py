"""Codat's query language for list endpoints, turned into a Django Q.

    query=sourceType=Accounting && name~clear
    query={status=Complete || status=FetchError} && dataType=invoices

Operators: `=`, `!=`, `>`, `>=`, `<`, `<=`, `~` (contains). `&&` binds tighter than `||`;
braces group. Values may be quoted ('…' or "…"). Each endpoint declares its fields; an
unknown field, an operator the field does not support or a malformed query answers 400
with Codat's body ("Error parsing query - …").
"""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .errors import bad_request

TEXT, EXACT, UUID, NUMBER, BOOLEAN, DATE, DATETIME = "text", "exact", "uuid", "number", "boolean", "date", "datetime"
OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")
LOOKUPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


@dataclass(frozen=True)
class Field:
    """A queryable field: its Codat name, the ORM path and its kind (how values compare)."""

    path: str
    kind: str = TEXT
    choices: tuple = ()  # for EXACT fields with an enum: the values Codat knows

    def allows(self, operator) -> bool:
        if operator in ("=", "!="):
            return True
        if operator == "~":
            return self.kind == TEXT
        return self.kind in (NUMBER, DATE, DATETIME)


def _error(message):
    return bad_request(f"Error parsing query - {message}", item="query", validator="query")


def _convert(field, name, raw):
    value = raw
    if field.kind == BOOLEAN:
        if raw.lower() not in ("true", "false"):
            raise _error(f"{name} must be true or false")
        return raw.lower() == "true"
    if field.kind == UUID:
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise _error(f"{name} must be a UUID") from None
    if field.kind == NUMBER:
        try:
            number = Decimal(raw)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise _error(f"{name} must be a number")
        return number
    if field.kind in (DATE, DATETIME):
        parsed = parse_moment(raw)
        if parsed is None:
            raise _error(f"{name} must be a date or date-time (ISO 8601)")
        return parsed.date() if field.kind == DATE else parsed
    return value


def parse_moment(raw):
    """An aware datetime (UTC when no offset is given) from an ISO 8601 date or date-time, or None."""
    try:
        parsed = parse_datetime(raw)
        if parsed is None:
            day = parse_date(raw)
            parsed = datetime(day.year, day.month, day.day) if day else None
    except ValueError:  # well formed but impossible, e.g. month 13
        return None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if timezone.is_naive(parsed) else parsed


def _condition(text, fields, resource):
    match = re.fullmatch(r"\s*([A-Za-z][\w.\-]*)\s*(!=|>=|<=|=|>|<|~)\s*(.*?)\s*", text, re.S)
    if not match:
        raise _error("Malformed query.")
    name, operator, raw = match.groups()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        raw = raw[1:-1]
    field = fields.get(name)
    if field is None:
        raise _error(f"Could not resolve property {name} on {resource}")
    if not field.allows(operator):
        raise _error(f"Operator {operator} is not supported for property {name}")
    if field.kind == EXACT and field.choices and operator in ("=", "!=") and raw not in field.choices:
        # A value Codat knows nothing of can never match; say so instead of answering nothing.
        raise _error(f"{raw!r} is not a valid value for {name}")
    value = _convert(field, name, raw)
    if operator == "~":
        q = Q(**{f"{field.path}__icontains": value})
    elif operator in ("=", "!="):
        lookup = "iexact" if field.kind == TEXT else "exact"
        q = Q(**{f"{field.path}__{lookup}": value})
        if operator == "!=":
            q = ~q
    else:
        q = Q(**{f"{field.path}__{LOOKUPS[operator]}": value})
    return q


def _tokens(query):
    """Split into '{', '}', '&&', '||' and condition texts, leaving quoted text alone."""
    tokens, current, quote, i = [], "", None, 0
    while i < len(query):
        char = query[i]
        if quote:
            current += char
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            current += char
        elif query.startswith(("&&", "||"), i):
            tokens += [current, query[i : i + 2]]
            current = ""
            i += 1
        elif char in "{}":
            tokens += [current, char]
            current = ""
        else:
            current += char
        i += 1
    if quote:
        raise _error("Malformed query.")
    tokens.append(current)
    return [t for t in (token.strip() for token in tokens) if t]


def parse(query: str, fields: dict, resource: str) -> Q:
    """A Q for a Codat query (an empty query matches everything)."""
    tokens = _tokens(query or "")
    if not tokens:
        return Q()
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def primary():
        token = take() if peek() is not None else None
        if token == "{":
            inner = disjunction()
            closing = take() if peek() is not None else None
            if closing != "}":
                raise _error("Malformed query.")
            return inner
        if token is None or token in ("}", "&&", "||"):
            raise _error("Malformed query.")
        return _condition(token, fields, resource)

    def conjunction():
        q = primary()
        while peek() == "&&":
            take()
            q &= primary()
        return q

    def disjunction():
        q = conjunction()
        while peek() == "||":
            take()
            q |= conjunction()
        return q

    result = disjunction()
    if peek() is not None:
        raise _error("Malformed query.")
    return result


def order(queryset, order_by: str, fields: dict, resource: str, default=()):
    """Order by Codat's `orderBy` (a field name, `-` first for descending), then `default`."""
    if not order_by:
        return queryset.order_by(*default) if default else queryset
    name = order_by.strip()
    descending = name.startswith("-")
    field = fields.get(name.lstrip("-"))
    if field is None:
        raise bad_request(
            f"Error parsing orderBy - Could not resolve property {name.lstrip('-')} on {resource}",
            item="orderBy",
            validator="orderBy",
        )
    return queryset.order_by(("-" if descending else "") + field.path, *default)


def filtered(request, queryset, fields, resource, default_order=()):
    """Apply the request's `query` and `orderBy` to a queryset."""
    params = request.query_params
    queryset = queryset.filter(parse(params.get("query", ""), fields, resource))
    return order(queryset, params.get("orderBy", ""), fields, resource, default_order)
