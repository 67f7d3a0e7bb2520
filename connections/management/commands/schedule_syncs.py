"""Create or update the django-q2 schedules of the sync engine; safe to run on every deploy."""

from django.core.management.base import BaseCommand
from django_q.models import Schedule

SCHEDULES = (
    ("Queue due pulls", "connections.sync.tasks.queue_due_pulls"),
    ("Pull watchdog", "connections.sync.tasks.watchdog"),
)


class Command(BaseCommand):
    help = "Create or update the every-minute django-q2 schedules: queue due pulls, and the pull watchdog."

    def handle(self, *args, **options):
        for name, func in SCHEDULES:
            _, created = Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
            )
            self.stdout.write(f"{'Created' if created else 'Updated'} schedule “{name}” ({func}, every minute).")
