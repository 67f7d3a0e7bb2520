"""`manage.py adduser NAME --role admin|support`: create a portal user with a role.

The password comes from --password-file (first line) or is asked for twice at the
terminal; it must pass the project's password validators. An existing user is an error
unless --update is given (then the role, e-mail and, if one is given, password change).
"""

import getpass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from portal.accounts import ROLE_NAMES, AccountError, save_user


class Command(BaseCommand):
    help = "Create a portal user with the Admin or Support role."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, help=f"One of: {', '.join(sorted(ROLE_NAMES))}.")
        parser.add_argument("--password-file", help="Read the password from the first line of this file.")
        parser.add_argument("--email", help="The user's e-mail address (optional).")
        parser.add_argument(
            "--update", action="store_true", help="Change an existing user instead of refusing to touch them."
        )

    def handle(self, username, role, password_file=None, email=None, update=False, **options):
        if role.strip().lower() not in ROLE_NAMES:
            raise CommandError(f"Unknown role {role!r}: choose one of {', '.join(sorted(ROLE_NAMES))}.")
        if email is not None:
            try:
                validate_email(email)
            except ValidationError as error:
                raise CommandError(f"{email!r} is not a valid e-mail address.") from error
        password = self._password(password_file, update)
        try:
            user, created = save_user(username, role, password=password, email=email, update=update)
        except AccountError as error:
            raise CommandError(str(error)) from error
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {user.username} with the {ROLE_NAMES[role.lower()]} role."))

    def _password(self, password_file, update):
        if password_file:
            try:
                lines = Path(password_file).read_text().splitlines()
            except OSError as error:
                raise CommandError(f"Cannot read the password file {password_file}: {error.strerror}.") from error
            if not lines or not lines[0]:
                raise CommandError(f"The password file {password_file} is empty.")
            return lines[0]
        hint = " (leave empty to keep the current one)" if update else ""
        first = getpass.getpass(f"Password{hint}: ")
        if not first and update:
            return None
        if getpass.getpass("Password (again): ") != first:
            raise CommandError("The two passwords did not match; nothing was changed.")
        if not first:
            raise CommandError("A new user needs a password.")
        return first
