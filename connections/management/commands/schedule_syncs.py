"""Create or update the django-q2 schedules of the sync engine; safe to run on every deploy.

django-q2 schedules run at most once a minute, and its scheduler looks every 30 seconds
or so. The watchdog has two schedules, half a minute apart, so a pull whose worker died
is failed and queued again within about half a minute of going silent for
SYNC_STALE_SECONDS, not a whole minute (and the connection page can say when).
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

WATCHDOG = "connections.sync.tasks.watchdog"
SWEEP = "connections.webhooks.tasks.sweep"  # webhook messages due whose hand-over was lost
# (name, function, seconds after the first schedule's run): every one runs every minute.
SCHEDULES = (
    ("Queue due pulls", "connections.sync.tasks.queue_due_pulls", 0),
    ("Pull watchdog", WATCHDOG, 0),
    ("Pull watchdog, half a minute later", WATCHDOG, 30),
    ("Webhook sweeper", SWEEP, 0),
    ("Webhook sweeper, half a minute later", SWEEP, 30),
)


class Command(BaseCommand):
    help = (
        "Create or update the every-minute django-q2 schedules: queue due pulls, and the pull watchdog and "
        "the webhook sweeper (each twice, half a minute apart)."
    )

    def handle(self, *args, **options):
        start = timezone.now()
        for name, func, offset in SCHEDULES:
            _, created = Schedule.objects.update_or_create(
                name=name,
                defaults={
                    "func": func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": 1,
                    "repeats": -1,
                    "next_run": start + timedelta(seconds=offset),
                },
            )
            when = f"every minute, {offset} s after the others" if offset else "every minute"
            self.stdout.write(f"{'Created' if created else 'Updated'} schedule “{name}” ({func}, {when}).")
