"""Scheduled work fires exactly once however many clusters run.

Every qcluster runs django-q2's scheduler about every 30 seconds (its guard loop). The
scheduler reads the due schedules with `select_for_update()` inside a transaction,
queues one task each and moves `next_run` past now before it commits:

- PostgreSQL: a second cluster's `SELECT … FOR UPDATE` waits on the rows the first one
  locked; when the first commits, PostgreSQL re-checks the WHERE clause (`next_run < now`)
  against the new row version (READ COMMITTED), finds it no longer due and skips it.
  (django-q2 1.11 does not use skip_locked: clusters queue up for a moment instead.)
- SQLite: the settings begin every transaction IMMEDIATE, so schedulers take turns and
  the second reads the first one's committed `next_run`.

The first test hammers the scheduler from three processes while the schedules fall due
again and again (the minute compressed to a round); the second runs three real clusters
on PostgreSQL and Redis across two scheduler passes and counts executions.
"""

import io
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from connections.management.commands import schedule_syncs
from tests.plugins.worker import ROOT, wait_for, worker_env
from tests.production.conftest import use_broker

ROUNDS, SCHEDULES, SCHEDULERS = 12, 20, 3

HAMMER = """
import sys
import time
from pathlib import Path
import django
django.setup()
from django_q.scheduler import scheduler
stop, calls = Path(sys.argv[1]), 0
while not stop.exists():
    scheduler()
    calls += 1
    time.sleep(0.002)
print(calls)
"""


def make_schedules(prefix, count, **fields):
    return [
        Schedule.objects.create(
            name=f"{prefix}-{i}", func="math.sqrt", args="4", schedule_type=Schedule.MINUTES, minutes=1, **fields
        )
        for i in range(count)
    ]


@pytest.mark.e2e  # three real processes: with the slow tests, not in make test-fast
@pytest.mark.django_db(transaction=True)
def test_three_schedulers_at_once_queue_each_due_schedule_once(tmp_path, monkeypatch):
    name = f"portal-test-sched-{tmp_path.name[-8:]}"
    schedules = make_schedules("tick", SCHEDULES, next_run=timezone.now() + timedelta(hours=1))
    ids = [s.pk for s in schedules]
    stop = tmp_path / "stop"
    env = worker_env(Q_CLUSTER_NAME=name, LOG_LEVEL="WARNING")
    env.pop("REDIS_URL", None)  # the ORM broker: every queued task is a row we can count exactly
    hammers = [
        subprocess.Popen(
            [sys.executable, "-c", HAMMER, str(stop)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(SCHEDULERS)
    ]
    try:
        time.sleep(2)  # all three are looping
        for _ in range(ROUNDS):
            # The minute turns: every schedule falls due at once, under three running schedulers.
            Schedule.objects.filter(pk__in=ids).update(next_run=timezone.now() - timedelta(seconds=1))
            wait_for(
                lambda: not Schedule.objects.filter(pk__in=ids, next_run__lte=timezone.now()).exists(),
                timeout=30,
                interval=0.02,
                message="every schedule to be taken",
            )
            time.sleep(0.1)  # a late scheduler would queue a second task now
    finally:
        stop.touch()
        calls = [int(h.communicate(timeout=60)[0].strip() or 0) for h in hammers]

    use_broker(monkeypatch, name=name)  # to read the signed tasks
    queued = Counter(row.task["group"] for row in OrmQ.objects.filter(key=name))
    assert queued == {f"tick-{i}": ROUNDS for i in range(SCHEDULES)}
    assert all(c > ROUNDS for c in calls), calls  # every scheduler kept looking, round after round
    for schedule in Schedule.objects.filter(pk__in=ids):
        assert schedule.next_run > timezone.now() and schedule.repeats == -1


@pytest.mark.e2e
def test_three_clusters_on_postgresql_and_redis_run_each_minute_schedule_once_a_minute(production_stack, start_worker):
    """The real schedules (schedule_syncs) and ten more, across two passes of three clusters' schedulers."""
    call_command("schedule_syncs", stdout=io.StringIO())
    make_schedules("tick", 10)
    names = list(Schedule.objects.values_list("name", flat=True))
    assert len(names) == len(schedule_syncs.SCHEDULES) + 10  # the watchdog has two, half a minute apart
    # Due 5 s ago: the clusters' first pass (about 30 s after they start) runs each once and
    # sets next_run 55 s from now; their second pass (about 60 s) finds each due once more.
    Schedule.objects.update(next_run=timezone.now() - timedelta(seconds=5))
    clusters = [start_worker(Q_WORKERS=1, **production_stack.env) for _ in range(3)]

    def executions():
        return Counter(Task.objects.filter(group__in=names).values_list("group", flat=True))

    wait_for(lambda: all(executions()[n] >= 1 for n in names), timeout=60, message="first pass", worker=clusters[0])
    first = executions()
    wait_for(lambda: all(executions()[n] >= 2 for n in names), timeout=60, message="second pass", worker=clusters[0])
    time.sleep(5)  # every cluster's second pass is over: a duplicate would be here by now
    assert all(cluster.running for cluster in clusters)
    for cluster in clusters:
        cluster.stop()

    assert first == dict.fromkeys(names, 1)
    assert executions() == dict.fromkeys(names, 2)
    assert not Task.objects.filter(group__in=names, success=False).exists()
    fired = sum(cluster.log_tail(5000).count("from schedule [") for cluster in clusters)
    assert fired == 2 * len(names)
