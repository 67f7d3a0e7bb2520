"""Read a Clear Books account from the command line, for support and operations.

    python manage.py clearbooks_fetch --api-key-file key.txt [--wsdl-url URL]
        [--data-type invoices --data-type customers] [--modified-since 2024-01-31T00:00] [--json]

The key is read from a file (or `-` for stdin), never from the command line, where it
would land in shell history and `ps`. It is never printed. Exit codes: 0 all read,
3 the key was rejected, 4 Clear Books could not be reached, 5 some data type failed.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError
from django.utils.dateparse import parse_date, parse_datetime

from integrations import registry
from integrations.clearbooks import credentials, reads
from integrations.models import Integration
from integrations.registry import CredentialStatus, ErrorKind, ProviderError

EXIT_REJECTED, EXIT_UNREACHABLE, EXIT_READ_FAILED = 3, 4, 5


class Command(BaseCommand):
    help = "Check a Clear Books API key, then read data types and print record counts (or records as JSON lines)."

    def add_arguments(self, parser):
        parser.add_argument("--api-key-file", required=True, help="File holding the API key, or - for stdin.")
        parser.add_argument("--wsdl-url", help="Default: the Clear Books integration's effective WSDL URL.")
        parser.add_argument(
            "--data-type",
            action="append",
            dest="data_types",
            metavar="T",
            help=f"Repeat for several. Default: all of {', '.join(reads.SUPPORTED_DATA_TYPES)}.",
        )
        parser.add_argument(
            "--modified-since", help="ISO date or time: read customers and suppliers changed since then."
        )
        parser.add_argument("--json", action="store_true", help="One JSON object per record, then a summary line.")

    def handle(self, *args, **options):
        api_key = _read_key(options["api_key_file"])
        data_types = options["data_types"] or list(reads.SUPPORTED_DATA_TYPES)
        unknown = [t for t in data_types if t not in reads.SUPPORTED_DATA_TYPES]
        if unknown:
            raise CommandError(
                f"Clear Books has no {', '.join(unknown)} to read. "
                f"Choose from: {', '.join(reads.SUPPORTED_DATA_TYPES)}."
            )
        since = _parse_since(options["modified_since"])
        wsdl_url, timeout = _service_settings(options["wsdl_url"])

        check = credentials.validate_credentials(wsdl_url, api_key, timeout=timeout)
        if check.status != CredentialStatus.VALID:
            self._explain(check.message, check.detail, options)
            code = EXIT_REJECTED if check.status == CredentialStatus.REJECTED else EXIT_UNREACHABLE
            raise CommandError(check.message, returncode=code)
        if not options["json"]:
            self.stdout.write(f"{check.message} Reading from {wsdl_url}")

        counts, failed = {}, False
        for data_type in data_types:
            try:
                counts[data_type] = self._read(wsdl_url, api_key, data_type, since, timeout, options["json"])
            except ProviderError as exc:
                failed = True
                self._explain(f"{data_type}: {exc.message}", exc.detail, options)
                if exc.kind == ErrorKind.AUTH:
                    break
        self._summarise(counts, data_types, options["json"])
        if failed:
            raise CommandError("Some data types could not be read (see above).", returncode=EXIT_READ_FAILED)

    def _read(self, wsdl_url, api_key, data_type, since, timeout, as_json):
        count = 0
        for page in reads.read_pages(wsdl_url, api_key, data_type, modified_since=since, timeout=timeout):
            count += len(page)
            if as_json:
                lines = (json.dumps({"dataType": data_type, "record": _record(r)}, cls=DjangoJSONEncoder) for r in page)
                self.stdout.write("\n".join(lines))
        return count

    def _summarise(self, counts, data_types, as_json):
        if as_json:
            self.stdout.write(json.dumps({"summary": counts}))
            return
        width = max(len("Data type"), *(len(t) for t in data_types))
        self.stdout.write(f"{'Data type':<{width}}  {'Records':>8}")
        for data_type in data_types:
            shown = f"{counts[data_type]:>8}" if data_type in counts else "  failed"
            self.stdout.write(f"{data_type:<{width}}  {shown}")
        self.stdout.write(f"{'Total':<{width}}  {sum(counts.values()):>8}")

    def _explain(self, message, detail, options):
        self.stderr.write(message)
        if detail and options["verbosity"] >= 2:
            self.stderr.write(f"  detail: {detail}")


def _read_key(path):
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except OSError as exc:
        raise CommandError(f"Can't read the API key file: {exc.strerror}.") from None
    key = text.strip()
    if not key:
        raise CommandError("The API key file is empty.")
    return key


def _parse_since(value):
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None and parse_date(value) is not None:
        moment = parse_datetime(f"{value}T00:00:00")
    if moment is None:
        raise CommandError(f"--modified-since must be an ISO date or time such as 2024-01-31T09:00, not {value!r}.")
    return moment


def _service_settings(wsdl_url):
    """The integration's effective settings (the admin's, under the CLEARBOOKS_WSDL_URL override)."""
    provider = registry.get("jhch")
    try:
        integration = Integration.objects.filter(key=provider.key).first()
    except DatabaseError:  # no database yet (a fresh machine): the provider's defaults will do
        integration = None
    settings = integration.effective_settings() if integration else provider.default_settings()
    return wsdl_url or provider.wsdl_url(settings), settings.get("timeout", 60)


def _record(record):
    return {name: getattr(record, name) for name in record.__dataclass_fields__}
