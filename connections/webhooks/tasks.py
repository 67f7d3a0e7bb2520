"""django-q2 entry points, thin: the work is in `delivery` and `sweeper`."""

from django_q.tasks import async_task

from . import delivery, sweeper

DELIVER_TASK = "connections.webhooks.tasks.deliver"


def enqueue_delivery(message_id):
    async_task(DELIVER_TASK, str(message_id), task_name=f"webhook-{message_id}", group="webhooks")


def deliver(message_id):
    return delivery.deliver(message_id)


def sweep():
    """Twice a minute: hand over due messages nobody holds; forget events past the retention."""
    return sweeper.sweep(enqueue_delivery)
