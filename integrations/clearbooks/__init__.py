"""Clear Books (UK online accounting), platform key `jhch`, over its SOAP API.

The only package that says "clearbooks": the rest of the portal reaches it through
the registry.
"""

from django.conf import settings as django_settings

from ..registry import OWED, Column, DataType, Frequency, Provider, register
from ..registry import ColumnKind as Kind
from .forms import ClearBooksSettingsForm

# Customers and suppliers: who they are, how to reach them, and what is outstanding on the
# invoices (bills) that name them.
PEOPLE = (
    Column("name", "Name", "name"),
    Column("email", "E-mail", "attributes.email", Kind.EMAIL),
    Column("balance", "Balance", OWED, Kind.MONEY),
)


# Invoices and bills. "Outstanding" leaves drafts and voided documents out of its sum.
DOCUMENTS = (
    Column("number", "Number", "number"),
    Column("date", "Date", "issued_on", Kind.DATE),
    Column("due", "Due", "due_on", Kind.DATE),
    Column("status", "Status", "status", Kind.STATUS),
    Column("amount", "Total", "total", Kind.MONEY, total="sum of totals"),
    Column("balance", "Outstanding", "balance", Kind.MONEY, total="outstanding (drafts and voided not counted)"),
)


@register
class ClearBooksProvider(Provider):
    key = "jhch"
    name = "Clear Books"
    category = "Accounting"
    logo = "integrations/clearbooks/logo.svg"
    summary = "UK online accounting for small businesses, read over its SOAP API with an API key."
    setup_template = "integrations/clearbooks/setup.html"
    link_help_template = "integrations/clearbooks/link_help.html"
    credentials_label = "Clear Books API key"
    settings_form = ClearBooksSettingsForm
    data_types = (
        DataType(
            "customers",
            "Customers",
            "listEntities (type customer)",
            incremental=True,
            columns=PEOPLE,
            documents="invoices",
        ),
        DataType(
            "suppliers",
            "Suppliers",
            "listEntities (type supplier)",
            incremental=True,
            columns=PEOPLE,
            documents="bills",
        ),
        DataType(
            "invoices",
            "Invoices",
            "listInvoices (sales ledger)",
            has_amounts=True,
            columns=DOCUMENTS,
            default_sort="-date",
        ),
        DataType(
            "bills",
            "Bills",
            "listInvoices (purchases ledger)",
            has_amounts=True,
            columns=DOCUMENTS,
            default_sort="-date",
        ),
        DataType(
            "chartOfAccounts",
            "Chart of accounts",
            "listAccountCodes",
            frequency=Frequency.WEEKLY,
            columns=(
                Column("number", "Code", "number"),
                Column("name", "Name", "name"),
                Column("status", "Status", "status", Kind.STATUS),
            ),
        ),
        DataType(
            "bankAccounts",
            "Bank accounts",
            "listBankAccounts",
            has_amounts=True,
            columns=(
                Column("name", "Name", "name"),
                Column("account", "Ledger account", "related_id"),
                Column("balance", "Balance", "balance", Kind.MONEY, total="sum of balances"),
            ),
        ),
        DataType(
            "trackingCategories",
            "Tracking categories",
            "listProjects",
            frequency=Frequency.WEEKLY,
            columns=(Column("name", "Name", "name"), Column("status", "Status", "status", Kind.STATUS)),
        ),
        DataType(
            "paymentMethods",
            "Payment methods",
            "listPaymentMethods",
            frequency=Frequency.WEEKLY,
            columns=(Column("name", "Name", "name"), Column("status", "Status", "status", Kind.STATUS)),
        ),
    )

    def wsdl_url(self, settings: dict) -> str:
        """The environment variable wins over the admin's setting (deployment decides)."""
        return django_settings.CLEARBOOKS_WSDL_URL or settings.get("wsdl_url") or self.default_settings()["wsdl_url"]

    def validate_credentials(self, settings, credentials):
        from .credentials import validate_credentials

        return validate_credentials(
            self.wsdl_url(settings), credentials["api_key"], timeout=settings.get("timeout", 60)
        )

    def read(self, settings, credentials, data_type, modified_since=None, *, lazy=False, on_retry=None):
        from .reads import read_pages

        return read_pages(
            self.wsdl_url(settings),
            credentials["api_key"],
            data_type,
            modified_since=modified_since,
            timeout=settings.get("timeout", 60),
            lazy=lazy,
            on_retry=on_retry,
            wire_hashes=True,  # stored with each record: the next full read recognises it unparsed
        )
