from django.core.management.base import BaseCommand, CommandError

from connections import lifecycle
from connections.forms import active_connection_in_category
from connections.link_urls import can_issue_new_link_url, issue_link_url, link_url
from connections.models import Company, Connection
from integrations.models import Integration

S = Connection.Status


class Command(BaseCommand):
    help = (
        "Onboard a company from a script: create it if missing, add a connection to the integration "
        "(or reuse a pending one) and print its Link URL on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The company's name; an existing company of that name is reused.")
        parser.add_argument("--integration", required=True, help="The platform key, e.g. jhch for Clear Books.")

    def handle(self, *args, name, integration, **options):
        name = " ".join(name.split())
        if not name:
            raise CommandError("Give the company a name.")
        found = Integration.objects.filter(key=integration).first()
        if found is None:
            keys = ", ".join(Integration.objects.values_list("key", flat=True))
            raise CommandError(f"There is no integration with platform key {integration!r}. Known keys: {keys}.")
        reason = found.refuse_new_links_reason()
        if reason:
            raise CommandError(reason)

        company = Company.objects.filter(name=name).order_by("created_at").first()
        if company is None:
            company = lifecycle.create_company(name)
            self.stdout.write(f"Created company {company.name} ({company.pk}).")
        else:
            self.stdout.write(f"Using existing company {company.name} ({company.pk}).")

        connection = self._connection(company, found)
        self.stdout.write(f"Connection {connection.pk}: {connection.integration.name}, {connection.status}.")
        self.stdout.write(link_url(connection))

    def _connection(self, company, integration):
        existing = active_connection_in_category(company, integration.category)
        if existing is None:
            return lifecycle.create_connection(company, integration)
        if existing.integration_id != integration.pk or existing.status == S.LINKED:
            raise CommandError(
                f"{company.name} already has an active {existing.category} connection "
                f"({existing.integration.name}, {existing.status}); nothing was changed."
            )
        # A pending (or deauthorized) connection to the same integration: reuse it, with a
        # Link URL that works.
        if can_issue_new_link_url(existing):
            issue_link_url(existing)
            self.stdout.write("Issued a new Link URL (the previous one had expired or was used).")
        else:
            self.stdout.write("Reusing its pending connection and Link URL.")
        return existing
