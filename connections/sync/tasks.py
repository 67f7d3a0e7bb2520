"""django-q2 entry points, thin: the work is in `pulls.sync` and `schedules`.

Delivery is at least once: `run_pull` for a pull that already ended, or that another
process took, does nothing.
"""

from ..models import PullOperation
from . import schedules
from .pulls import sync


def run_pull(pull_id):
    """Run one queued pull; returns its final status (shown in django-q2's task list)."""
    pull = PullOperation.objects.filter(pk=pull_id).first()  # sync() reads its connection itself
    if pull is None:
        return "gone"  # the connection was deleted while its pull waited
    return sync(pull).status


def queue_due_pulls():
    """Every minute: queue the pulls that are due by their data type's frequency."""
    return len(schedules.queue_due_pulls())


def watchdog():
    """Every minute: fail and requeue pulls whose worker went silent."""
    return schedules.watchdog()
