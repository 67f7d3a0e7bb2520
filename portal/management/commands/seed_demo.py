"""`manage.py seed_demo`: demo users, Clear Books switched on, demo companies (idempotent)."""

from django.core.management.base import BaseCommand

from portal import demo


class Command(BaseCommand):
    help = "Create the demo users and data that `make run` shows (safe to run again)."

    def handle(self, **options):
        for line in demo.seed(self.stdout):
            self.stdout.write(line)
