"""Queueing pull operations: every entry point (Link flow, schedule, buttons, commands) uses these.

A pull row is created in `Queued` and its django-q2 task is enqueued once the
transaction commits. The database allows at most one active pull per connection and
data type (constraint `one_active_pull_per_data_type`), so a second request returns
the pull already queued instead of creating another.

A queued pull's `mode` is what was asked for: `full`, or `incremental` meaning "only
what changed, where the data type allows it". The sync engine settles the real mode
when the pull starts (`pulls.decide_mode`).
"""

import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task
from redis.exceptions import RedisError

from ..events import record_event
from ..models import ACTIVE_PULL_STATUSES, Connection, ConnectionEvent, PullOperation
from . import data_status, effective

RUN_PULL_TASK = "connections.sync.tasks.run_pull"
# What a broker that cannot take a task raises: Redis down or restarting, or the ORM broker's database.
BROKER_ERRORS = (RedisError, OSError, DatabaseError)

logger = logging.getLogger(__name__)


def active_pull(connection, data_type):
    return PullOperation.objects.filter(
        connection=connection, data_type=data_type, status__in=ACTIVE_PULL_STATUSES
    ).first()


def queue_pull(connection, data_type, trigger, *, user=None, full=False, enqueue=True, actor_label=None):
    """Queue one pull; returns (pull, created). An active pull is returned as is.

    `actor_label` names who asked when no portal user did (an API key).
    """
    existing = active_pull(connection, data_type)
    if existing is not None:
        return existing, False
    mode = PullOperation.Mode.FULL if full else PullOperation.Mode.INCREMENTAL
    try:
        with transaction.atomic():
            pull = PullOperation.objects.create(
                connection=connection, data_type=data_type, trigger=trigger, requested_by=user, mode=mode
            )
            data_status.queued(pull)
            record_event(
                connection,
                ConnectionEvent.Kind.PULL_QUEUED,
                f"{data_type}: pull {pull.pk} queued ({pull.get_trigger_display().lower()}).",
                actor=user,
                actor_label=actor_label,
                pull=pull,
            )
    except IntegrityError:
        # Lost a race with another queuer: the constraint kept it to one.
        return active_pull(connection, data_type), False
    if enqueue:
        transaction.on_commit(lambda: enqueue_pull_task(pull))
    return pull, True


def enqueue_pull_task(pull):
    """Hand a queued pull to django-q2. Safe to repeat: a second delivery finds it claimed.

    A broker that cannot take the task loses nothing and fails no request: the pull stays
    Queued, marked as offered long ago (its `heartbeat_at`, which the watchdog reads as the
    last offer), so the watchdog's next pass offers it again.
    """
    try:
        async_task(RUN_PULL_TASK, pull.pk, task_name=f"pull-{pull.pk}", group=f"connection-{pull.connection_id}")
    except BROKER_ERRORS as error:
        logger.warning(
            "pull %s is queued but the task queue refused it (%s); the watchdog offers it again", pull.pk, error
        )
        long_ago = timezone.now() - timedelta(seconds=settings.SYNC_REOFFER_SECONDS + 1)
        with contextlib.suppress(DatabaseError):  # the database itself down: the row's age tells the watchdog the same
            PullOperation.objects.filter(pk=pull.pk, status=PullOperation.Status.QUEUED).update(heartbeat_at=long_ago)


def queue_first_link_pulls(connection, *, enqueue=True):
    """Queue a full pull for every data type whose sync setting in force says fetch on first link."""
    pulls = []
    for data_type in effective.first_link_data_types(connection):
        pull, _ = queue_pull(connection, data_type, PullOperation.Trigger.FIRST_LINK, full=True, enqueue=enqueue)
        pulls.append(pull)
    return pulls


def queue_refresh(connection, data_types, *, user=None, full=False, enqueue=True, actor_label=None):
    """Manual refresh of some data types (all of the provider's when `data_types` is empty).

    Returns (queued, already_active): lists of pulls.
    """
    names = list(data_types) or [dt.name for dt in connection.integration.provider.data_types]
    queued, already = [], []
    for name in names:
        pull, created = queue_pull(
            connection,
            name,
            PullOperation.Trigger.MANUAL,
            user=user,
            full=full,
            enqueue=enqueue,
            actor_label=actor_label,
        )
        (queued if created else already).append(pull)
    return queued, already


def refresh_refusal(connection) -> str:
    """Empty when data can be read now; otherwise a sentence saying why not."""
    integration = connection.integration
    if not integration.enabled:
        return (
            f"{integration.name} is switched off in this portal, so no data is read from it. "
            "An admin can switch it on from the Integrations page."
        )
    if connection.status != Connection.Status.LINKED:
        return f"This connection is {connection.status}: the company must link it again before data can be read."
    return ""
