"""Managing endpoints, from the portal and the API alike: create, change, rotate, delete, test, replay.

Every change is audited (never with a secret: only fingerprints). The plaintext secret
exists only in what `create` and `rotate_secret` return, for the caller to show once.
"""

import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from integrations import audit
from integrations.models import AuditEvent

from . import delivery, secrets, told
from .events import EVENT_TYPES, TEST_EVENT, emit, hand_over
from .models import DISABLED_BY_HAND, Attempt, Endpoint, Message
from .targets import UnsafeTarget, check_url

Action = AuditEvent.Action

MAX_TAGS = 10
MAX_ENDPOINTS = 50  # Codat lists at most 50 consumers
TAG_PATTERN = re.compile(r"^[^:\s]{1,64}:[^\s]{1,63}$")
M = Message.Status


class EndpointRefused(Exception):
    """Bad input for an endpoint: `errors` maps a field to a sentence."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def clean(url, event_types, company_tags) -> tuple[str, list, list]:
    """The values checked and normalised, or EndpointRefused naming each bad field."""
    errors = {}
    url = (url or "").strip()
    try:
        check_url(url)
    except UnsafeTarget as refused:
        errors["url"] = str(refused)
    event_types = list(dict.fromkeys(event_types or []))
    unknown = [name for name in event_types if name not in EVENT_TYPES]
    if unknown:
        errors["eventTypes"] = f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}."
    elif not event_types:
        errors["eventTypes"] = "Choose at least one event type."
    company_tags = list(dict.fromkeys(tag.strip() for tag in (company_tags or []) if tag.strip()))
    if len(company_tags) > MAX_TAGS:
        errors["companyTags"] = f"At most {MAX_TAGS} company tags."
    elif any(not TAG_PATTERN.match(tag) for tag in company_tags):
        errors["companyTags"] = "Write each company tag as tagKey:tagValue (no spaces), at most 128 characters."
    if errors:
        raise EndpointRefused(errors)
    return url, event_types, company_tags


def _audit(action, endpoint, actor, actor_name, changes=()):
    audit.record(
        action, actor=actor, actor_name=actor_name, target=endpoint.url, target_id=endpoint.pk, changes=changes
    )


@sensitive_variables("secret")
def create(url, event_types, company_tags=(), *, disabled=False, description="", actor=None, actor_name=None):
    """A new endpoint; returns (endpoint, secret). Raises EndpointRefused."""
    url, event_types, company_tags = clean(url, event_types, company_tags)
    endpoint = Endpoint(
        url=url,
        event_types=event_types,
        company_tags=company_tags,
        disabled=bool(disabled),
        description=description[:200],
        created_by_name=actor_name or (actor.get_username() if actor is not None else "system"),
    )
    secret = secrets.set_new_secret(endpoint)
    with transaction.atomic():
        if Endpoint.objects.count() >= MAX_ENDPOINTS:
            raise EndpointRefused({"url": f"At most {MAX_ENDPOINTS} endpoints: delete one you no longer use first."})
        endpoint.save(force_insert=True)
        _audit(
            Action.WEBHOOK_CREATED,
            endpoint,
            actor,
            actor_name,
            [
                {"field": "url", "before": None, "after": url},
                {"field": "eventTypes", "before": None, "after": event_types},
                {"field": "secret", "before": None, "after": endpoint.secret_fingerprint},
            ],
        )
    return endpoint, secret


def set_disabled(endpoint, disabled: bool, *, actor=None, actor_name=None):
    """Switch an endpoint off or on; on again clears the failure run and the reason."""
    ended = []
    with transaction.atomic():
        before = endpoint.disabled
        endpoint.disabled = disabled
        if disabled:
            endpoint.disabled_reason, endpoint.disabled_at = DISABLED_BY_HAND, timezone.now()
        else:
            endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = "", None, None
        endpoint.save(update_fields=["disabled", "disabled_reason", "disabled_at", "failing_since"])
        if disabled:
            ended = delivery.end_pending(endpoint)
        _audit(
            Action.WEBHOOK_CHANGED,
            endpoint,
            actor,
            actor_name,
            [{"field": "disabled", "before": before, "after": disabled}],
        )
    for message in ended:  # after the commit: see `told`
        told.record(message)
    return endpoint


@sensitive_variables("secret")
def rotate_secret(endpoint, *, actor=None, actor_name=None) -> str:
    """A new secret, shown once; the old one keeps signing for the overlap."""
    with transaction.atomic():
        before = endpoint.secret_fingerprint
        secret = secrets.rotate(endpoint)
        endpoint.save(update_fields=["secret_encrypted", "secret_fingerprint", "previous_secret_encrypted",
                                     "previous_secret_expires_at"])  # fmt: skip
        _audit(
            Action.WEBHOOK_SECRET_ROTATED,
            endpoint,
            actor,
            actor_name,
            [{"field": "secret", "before": before, "after": endpoint.secret_fingerprint}],
        )
    return secret


def delete(endpoint, *, actor=None, actor_name=None):
    with transaction.atomic():
        url, pk = endpoint.url, endpoint.pk
        endpoint.delete()
        endpoint.pk = pk
        endpoint.url = url
        _audit(Action.WEBHOOK_DELETED, endpoint, actor, actor_name, [{"field": "url", "before": url, "after": None}])


def send_test(endpoint):
    """Queue a `webhook.test` event to this endpoint alone (whatever it subscribes to)."""
    with transaction.atomic():
        return emit(
            TEST_EVENT,
            {"message": "A test event from the Integration Portal.", "endpointId": str(endpoint.pk)},
            only=endpoint,
            summary="a test event",
            trigger=Attempt.Trigger.TEST,
        )


class ReplayRefused(Exception):
    pass


def replay_messages(messages) -> int:
    """Send these messages again, as recorded (same event id, same body), from a fresh round of retries."""
    ids = [m.pk for m in messages]
    if not ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        count = Message.objects.filter(pk__in=ids).update(
            status=M.PENDING,
            attempts=0,
            next_attempt_at=now,
            leased_until=None,
            trigger=Attempt.Trigger.REPLAY,
        )
        transaction.on_commit(lambda: hand_over(ids))
    return count


def replay_one(message) -> int:
    if message.endpoint.disabled:
        raise ReplayRefused("The endpoint is disabled: enable it before replaying.")
    if message.status == M.PENDING:
        raise ReplayRefused("This message is still being delivered.")
    return replay_messages([message])


def replay_failed_since(endpoint, since) -> int:
    """Every failed message of the endpoint whose event is newer than `since` (at most the kept 14 days)."""
    if endpoint.disabled:
        raise ReplayRefused("The endpoint is disabled: enable it before replaying.")
    if since > timezone.now():
        raise ReplayRefused("Choose a time in the past.")
    failed = Message.objects.filter(endpoint=endpoint, status=M.FAILED, event__generated_at__gte=since)
    return replay_messages(list(failed.order_by("event__generated_at")))


def failing_for(endpoint, now=None) -> timedelta | None:
    if endpoint.failing_since is None:
        return None
    return (now or timezone.now()) - endpoint.failing_since
