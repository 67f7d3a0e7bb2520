"""The delivery log: an endpoint's messages with their attempts, filtered by event type, status and company."""

import uuid
from dataclasses import dataclass

from django.db.models import Prefetch

from .events import EVENT_TYPES, TEST_EVENT
from .models import Attempt, Message


@dataclass
class Filters:
    event_type: str = ""
    status: str = ""
    company_id: str = ""

    @classmethod
    def from_query(cls, query) -> "Filters":
        """From a request's GET parameters; ValueError with a sentence for a bad one."""
        found = cls(
            event_type=(query.get("eventType") or "").strip(),
            status=(query.get("status") or "").strip(),
            company_id=(query.get("companyId") or "").strip(),
        )
        if found.event_type and found.event_type not in (*EVENT_TYPES, TEST_EVENT):
            raise ValueError(f"Unknown event type {found.event_type!r}.")
        if found.status and found.status not in Message.Status.values:
            raise ValueError(f"status must be one of {', '.join(Message.Status.values)}.")
        if found.company_id:
            try:
                uuid.UUID(found.company_id)
            except ValueError:
                raise ValueError("companyId must be a company's id (a UUID).") from None
        return found


def messages(endpoint, filters: Filters):
    found = Message.objects.filter(endpoint=endpoint).select_related("event").order_by("-event__generated_at", "-pk")
    if filters.event_type:
        found = found.filter(event__event_type=filters.event_type)
    if filters.status:
        found = found.filter(status=filters.status)
    if filters.company_id:
        found = found.filter(event__company_id=filters.company_id)
    return found.prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("started_at", "pk")))
