"""The sweeper: what makes the outbox lose nothing.

A message is due when it is pending, its time has come, and no worker holds it (never
claimed, or its lease ran out because the worker died). Each run hands every due message
to django-q2 again; a message queued twice is sent once (the claim is atomic). Events older
than WEBHOOK_RETENTION_DAYS go, with their messages and attempts.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import Event, Message

BATCH = 500


def due_messages(now=None):
    now = now or timezone.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    return Message.objects.filter(free, status=Message.Status.PENDING, next_attempt_at__lte=now)


def sweep(enqueue, now=None) -> dict:
    now = now or timezone.now()
    ids = list(due_messages(now).order_by("next_attempt_at").values_list("pk", flat=True)[:BATCH])
    for message_id in ids:
        enqueue(message_id)
    cutoff = now - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    forgotten, _ = Event.objects.filter(generated_at__lt=cutoff).delete()
    return {"queued": len(ids), "forgotten": forgotten}
