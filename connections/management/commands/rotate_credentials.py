from django.core.management.base import BaseCommand, CommandError

from connections.credentials import rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential with the first key in CREDENTIAL_KEYS. "
        "Idempotent: run it after putting a new key first, before dropping the old one."
    )

    def handle(self, *args, **options):
        rotated, unreadable = rotate_all()
        self.stdout.write(f"Re-encrypted {rotated} stored credential(s) with the first key.")
        if unreadable:
            raise CommandError(
                f"{unreadable} stored credential(s) could not be decrypted with any configured key; "
                "they were left as they are. Put back the key they were encrypted with and run this again."
            )
