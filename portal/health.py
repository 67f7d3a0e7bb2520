"""`/healthz`: is this portal able to do its work? For load balancers, systemd and people.

Three checks, each bounded, no login, nothing cached (so nothing to stampede when a cache
entry expires): at most three small queries and one broker round trip per call.

- **database**: `SELECT 1` on the default database.
- **broker**: django-q2's broker answers its ping. With Redis (REDIS_URL) that is a Redis
  PING with a timeout of HEALTH_TIMEOUT seconds; with the ORM broker the queue *is* the
  database, so this check is the database check.
- **worker**: a sign of life from a worker in the last HEALTH_WORKER_MAX_AGE seconds, the
  newer of two, both written with either broker:
  - the newest `stopped` in django-q2's task table, which each cluster's monitor writes for
    every task, success or failure. The sync schedules (`schedule_syncs`) finish two tasks
    a minute on an idle portal. A freshly started cluster counts from its first scheduler
    pass (about 30 seconds after it starts). The table is small: django-q2 keeps the newest
    Q_CLUSTER["save_limit"] successes (1000) and the failures.
  - the newest heartbeat of a running pull (Fetching or Processing), which the worker
    itself writes every SYNC_HEARTBEAT_SECONDS and after every page. This one is needed
    when the portal is busy: the monitor saves one result at a time, each save locking
    every kept success row (django-q2's pruning to save_limit), so during a burst of pulls
    it falls behind the workers and its newest `stopped` ages (by about half a second a
    second in tests/production/test_scale.py) although the workers are all busy.
  Silence from both means no cluster is running the queue: none started, all stopped, or
  every worker stuck.

The answer is 200 with `"status": "ok"` or 503 with `"status": "fail"`, and a JSON body
naming each check, what is wrong in a sentence, and the numbers behind it. Error detail
is logged, not shown (the page is public): the body names the exception class only.
"""

import functools
import logging
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.models import Max
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@functools.cache
def broker():
    """django-q2's broker, as the web process enqueues with it; made once per process.

    A Redis broker's connection gets socket timeouts (HEALTH_TIMEOUT) so a Redis that
    accepts connections but never answers fails the check instead of hanging it.
    """
    import redis
    from django_q.brokers import get_broker
    from django_q.brokers.redis_broker import Redis
    from django_q.conf import Conf

    instance = get_broker()
    if isinstance(instance, Redis) and isinstance(Conf.REDIS, str):
        timeout = settings.HEALTH_TIMEOUT
        instance.connection = redis.from_url(Conf.REDIS, socket_connect_timeout=timeout, socket_timeout=timeout)
    return instance


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def uses_orm_broker() -> bool:
    from django_q.conf import Conf

    return bool(Conf.ORM)


def check_broker() -> dict:
    instance = broker()
    kind = type(instance).__name__.lower()  # "redis": the settings choose the ORM broker or Redis
    if not instance.ping():
        return {"ok": False, "kind": kind, "message": "The task broker did not answer its ping."}
    return {"ok": True, "kind": kind}


def check_worker(now=None) -> dict:
    from django_q.models import Task

    from connections.models import PullOperation

    now = now or timezone.now()
    max_age = settings.HEALTH_WORKER_MAX_AGE
    finished = Task.objects.aggregate(newest=Max("stopped"))["newest"]
    running = PullOperation.objects.filter(  # a handful of rows, found by the (status, requested_at) index
        status__in=[PullOperation.Status.FETCHING, PullOperation.Status.PROCESSING]
    ).aggregate(newest=Max("heartbeat_at"))["newest"]
    newest = max((t for t in (finished, running) if t is not None), default=None)
    result = {
        "max_age_seconds": max_age,
        "last_task_finished_at": finished.isoformat() if finished else None,
        "last_pull_heartbeat_at": running.isoformat() if running else None,
    }
    if newest is None:
        return {
            **result,
            "ok": False,
            "message": "No worker has finished a task yet: is a qcluster running, and were the "
            "schedules created (manage.py schedule_syncs)?",
        }
    age = max((now - newest).total_seconds(), 0.0)
    result["age_seconds"] = round(age, 1)
    if age > max_age:
        return {
            **result,
            "ok": False,
            "message": f"No worker has shown a sign of life for {age:.0f} seconds (limit {max_age}): "
            "no qcluster is running the queue, or every worker is stuck.",
        }
    return {**result, "ok": True}


def _run(name, check) -> dict:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as error:
        logger.warning("health check %s failed: %r", name, error)
        kind = type(error).__name__
        result = {"ok": False, "message": f"The {name} check failed: {kind}.", "error": kind}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def run_checks() -> dict:
    checks = {"database": _run("database", check_database)}
    if uses_orm_broker():  # the queue is a table: the database check is the broker's
        ok = checks["database"]["ok"]
        message = "The task queue is the database (django-q2's ORM broker)" + ("." if ok else ", which is down.")
        checks["broker"] = {"ok": ok, "kind": "orm", "message": message}
    else:
        checks["broker"] = _run("broker", check_broker)
    if checks["database"]["ok"]:
        checks["worker"] = _run("worker", check_worker)
    else:
        checks["worker"] = {"ok": False, "message": "Not checked: the worker heartbeat is read from the database."}
    failing = [name for name, result in checks.items() if not result["ok"]]
    return {
        "status": "fail" if failing else "ok",
        "failing": failing,
        "problems": [checks[name]["message"] for name in failing],
        "checks": checks,
    }


@login_not_required
@require_safe
@never_cache
def healthz(request):
    report = run_checks()
    response = JsonResponse(report, status=503 if report["failing"] else 200)
    if report["failing"]:
        # One line saying what is wrong, instead of django.request's "Service Unavailable: /healthz".
        logger.warning("healthz: %s", " ".join(report["problems"]))
        response._has_been_logged = True
    return response
