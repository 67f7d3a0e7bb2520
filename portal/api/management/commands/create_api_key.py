"""Create an API key from the command line; the key is printed alone on the last line."""

from django.core.management.base import BaseCommand, CommandError

from portal.api import keys


class Command(BaseCommand):
    help = "Create an API key for the REST API. The key is printed on the last line, only this once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What will use the key (at most 50 characters); audit events name it.")

    def handle(self, *args, name, **options):
        name = name.strip()
        if not name or len(name) > 50:
            raise CommandError("Give the key a name of 1 to 50 characters.")
        try:
            row, key = keys.create_key(name, actor_name="manage.py create_api_key")
        except keys.TooManyKeys as full:
            raise CommandError(str(full)) from None
        self.stdout.write(f"Created API key {row.name!r} (id {row.pk}). It is shown only this once; store it now.")
        self.stdout.write("Send it as: Authorization: Basic <the key encoded in base64>")
        self.stdout.write(key)
