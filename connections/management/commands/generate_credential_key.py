from django.core.management.base import BaseCommand

from connections.credentials import generate_key


class Command(BaseCommand):
    help = "Print a new Fernet key for CREDENTIAL_KEYS (put it first to encrypt with it; keep the old ones after it)."

    def handle(self, *args, **options):
        self.stdout.write(generate_key())
