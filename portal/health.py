"""`/healthz`: is this portal able to do its work? For load balancers, systemd and people.

Three checks, each bounded, no login, nothing cached (so nothing to stampede when a cache
entry expires): at most two small queries and one broker round trip per call.

- **database**: `SELECT 1` on the default database.
- **broker**: django-q2's broker answers its ping. With Redis (REDIS_URL) that is a Redis
  PING with a timeout of HEALTH_TIMEOUT seconds; with the ORM broker the queue *is* the
  database, so this check is the database check.
- **worker**: some django-q2 task finished in the last HEALTH_WORKER_MAX_AGE seconds (the
  newest `stopped` of django-q2's task table, which the cluster's monitor writes for
  every task, success or failure, with either broker). The sync schedules
  (`schedule_syncs`) finish two tasks a minute on an idle portal, and pulls finish many
  more when it is busy, so silence means no cluster is running the queue: none started,
  all stopped, or every worker stuck. A freshly started cluster counts from its first
  scheduler pass (about 30 seconds after it starts). The table is small: django-q2 keeps
  the newest Q_CLUSTER["save_limit"] successes (1000) and the failures.

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

    now = now or timezone.now()
    max_age = settings.HEALTH_WORKER_MAX_AGE
    newest = Task.objects.aggregate(newest=Max("stopped"))["newest"]
    result = {"max_age_seconds": max_age, "last_task_finished_at": newest.isoformat() if newest else None}
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
            "message": f"No worker has finished a task for {age:.0f} seconds (limit {max_age}): "
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
