"""The provider registry: the code behind each integration.

A provider is a package under `integrations/` that knows how to validate credentials
and read each data type. Integration rows in the database are derived from this
registry (see `sync_catalogue`), never typed by hand. Code outside a provider package
asks the registry (`registry.get(key)`) instead of branching on the kind.

Providers know nothing of companies, pull operations or the records database.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

PROVIDERS = [
    "integrations.clearbooks",
]

CATEGORIES = ("Accounting", "Banking", "Commerce")


class Frequency(enum.StrEnum):
    NONE = "none"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


FREQUENCY_SECONDS = {
    Frequency.NONE: None,
    Frequency.HOURLY: 3600,
    Frequency.DAILY: 86400,
    Frequency.WEEKLY: 7 * 86400,
    Frequency.MONTHLY: 30 * 86400,
}


class ColumnKind(enum.StrEnum):
    """How a column's values are written and sorted."""

    TEXT = "text"
    EMAIL = "email"
    DATE = "date"
    MONEY = "money"
    STATUS = "status"


# What a column may show: a NormalizedRecord field, a field as received ("attributes.<name>"),
# or OWED: what is still owed on the documents of another data type that name this record in
# their `related_id` (a customer's unpaid invoices), drafts and voided ones not counted.
RECORD_FIELDS = ("number", "name", "issued_on", "due_on", "total", "balance", "currency", "status", "related_id")
ATTRIBUTE_PREFIX = "attributes."
OWED = "owed"


@dataclass(frozen=True)
class Column:
    """One column of the record browser for a data type; every column can be sorted on.

    `key` names it in the page's address (`?sort=-date`); `total` labels the sum shown above
    the list for a money column worth adding up ("" for none).
    """

    key: str
    label: str
    field: str  # see RECORD_FIELDS, ATTRIBUTE_PREFIX and OWED
    kind: ColumnKind = ColumnKind.TEXT
    total: str = ""

    def __post_init__(self):
        if not (self.field in RECORD_FIELDS or self.field == OWED or self.field.startswith(ATTRIBUTE_PREFIX)):
            raise ValueError(f"column {self.key!r} shows an unknown field {self.field!r}")

    @property
    def attribute(self) -> str:
        """The name of the field as received, for an "attributes.<name>" column ("" otherwise)."""
        return self.field.removeprefix(ATTRIBUTE_PREFIX) if self.field.startswith(ATTRIBUTE_PREFIX) else ""


# The columns of a data type that declares none: what every record has.
DEFAULT_COLUMNS = (
    Column("number", "Number", "number"),
    Column("name", "Name", "name"),
    Column("status", "Status", "status", ColumnKind.STATUS),
)


@dataclass(frozen=True)
class DataType:
    """One data type a provider can read, named as Codat names it."""

    name: str  # Codat name, e.g. "invoices"
    label: str  # for people, e.g. "Invoices"
    source: str  # where the provider reads it, e.g. "listInvoices (sales ledger)"
    incremental: bool = False  # True when the provider can read only what changed since a time
    fetch_on_first_link: bool = True
    frequency: Frequency = Frequency.DAILY
    has_amounts: bool = False  # records carry totals/balances worth summing in the browser
    columns: tuple[Column, ...] = DEFAULT_COLUMNS  # the record browser's, in order
    default_sort: str = ""  # a column key, "-" first for descending; "" for the first column ascending
    # For a person or firm: the data type of the documents that name it in their related_id
    # (a customer's invoices), which its OWED column adds up.
    documents: str = ""

    def __post_init__(self):
        keys = [column.key for column in self.columns]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.name}: two columns share a key")
        if self.default_sort and self.default_sort.lstrip("-") not in keys:
            raise ValueError(f"{self.name}: default_sort {self.default_sort!r} is not one of its columns")
        if any(column.field == OWED for column in self.columns) and not self.documents:
            raise ValueError(f"{self.name}: an owed column needs the data type of its documents")

    @property
    def sort(self) -> str:
        """The order the record browser opens in."""
        return self.default_sort or self.columns[0].key


class CredentialStatus(enum.StrEnum):
    VALID = "valid"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class CredentialCheck:
    status: CredentialStatus
    message: str = ""  # a sentence for people; never contains the credential
    detail: str = ""  # technical detail for support


class ErrorKind(enum.StrEnum):
    AUTH = "auth"  # the platform rejects the credentials: relink, never retry
    TRANSIENT = "transient"  # timeouts, connection errors, 5xx, 429 (retried by the client)
    RATE_LIMIT = "rate_limit"  # the platform throttled us and retries ran out
    PERMANENT = "permanent"  # any other fault, unparseable or incomplete responses
    NOT_SUPPORTED = "not_supported"  # the provider cannot read this data type


class ProviderError(Exception):
    """A classified failure talking to a platform.

    `message` is a sentence a support person understands; `detail` is technical.
    Neither ever holds a credential.
    """

    def __init__(self, kind: ErrorKind, message: str, detail: str = ""):
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message
        self.detail = detail

    def __repr__(self):
        return f"{type(self).__name__}({self.kind.value!r}, {self.message!r})"


@dataclass
class NormalizedRecord:
    """One record in the small shape the portal stores and shows.

    `attributes` holds every field as received (strings, nested dicts and lists),
    so nothing is lost by the mapping.
    """

    id: str
    number: str = ""
    name: str = ""
    issued_on: object = None  # date
    due_on: object = None  # date
    modified_at: datetime | None = None
    total: Decimal | None = None
    balance: Decimal | None = None  # amount still due
    currency: str = ""
    status: str = ""
    related_id: str = ""  # e.g. the customer of an invoice
    attributes: dict = field(default_factory=dict)
    # A digest of the record's bytes as received, when the provider can make one (see WirePage).
    wire_hash: str = field(default="", compare=False)


@dataclass(frozen=True)
class RetryNotice:
    """A provider is about to try a failed request again; told to `read(..., on_retry=...)`.

    `attempt` is the try about to be made (2 for the first retry) of at most `attempts`;
    it starts `delay` seconds from now; `reason` is why the last try failed, a sentence for
    people (the ProviderError's message, never a credential). A provider calls
    `on_retry(None)` when a request went through after retrying: nothing is being retried.
    """

    attempt: int
    attempts: int
    delay: float
    reason: str


class WirePage:
    """A page of records as received, hashed but not yet parsed.

    `read(..., lazy=True)` may yield these instead of lists when the provider can hash each
    record's bytes without parsing the page. The sync engine then maps only the records
    whose hashes it has not stored (`records(skip)`): re-reading an unchanged book costs
    little more than fetching it.
    """

    wire_hashes: list[str]  # one per record, in order

    def __len__(self):
        return len(self.wire_hashes)

    def records(self, skip=frozenset()) -> list[NormalizedRecord]:
        """The page's records mapped, but for those at the positions in `skip`. Raises ProviderError."""
        raise NotImplementedError


class Provider:
    """Base class for the code behind one integration.

    Subclasses set the class attributes and implement `validate_credentials` and
    `read`. Settings are the admin's per-integration settings (a dict validated by
    `settings_form`); credentials are what the company's user gave (a dict).
    """

    do_not_call_in_templates = True

    key: str = ""  # 4-character platform key
    name: str = ""
    category: str = "Accounting"
    logo: str = ""  # static path
    summary: str = ""  # one sentence: what it is
    setup_template: str = ""  # Manage page: what it needs and how to set it up
    link_help_template: str = ""  # Link page: how the company's user finds their credentials
    credentials_label: str = "API key"
    data_types: tuple[DataType, ...] = ()
    settings_form = None  # a django Form class for the provider's own settings
    sensitive_settings: tuple[str, ...] = ()  # settings never shown or audited in clear

    def default_settings(self) -> dict:
        form = self.settings_form
        if form is None:
            return {}
        return {name: f.initial for name, f in form.base_fields.items()}

    def data_type(self, name: str) -> DataType | None:
        return next((dt for dt in self.data_types if dt.name == name), None)

    def validate_credentials(self, settings: dict, credentials: dict) -> CredentialCheck:
        raise NotImplementedError

    def read(
        self,
        settings: dict,
        credentials: dict,
        data_type: str,
        modified_since: datetime | None = None,
        *,
        lazy: bool = False,
        on_retry=None,
    ) -> Iterator[list[NormalizedRecord] | WirePage]:
        """Yield pages of records of one data type; one page at a time.

        With `modified_since` (only for data types marked `incremental`) yield only
        records changed since then. With `lazy`, pages may be WirePages, mapped only
        when asked. `on_retry(RetryNotice | None)`, when given, is told before each
        retry of a failed request and once one goes through after retrying (None), from
        the thread that iterates the pages. Raises ProviderError, classified.
        """
        raise NotImplementedError

    def fingerprint(self, credentials: dict) -> str:
        """A short, safe-to-show identity for credentials (last 4 characters + hash)."""
        import hashlib

        secret = "".join(str(credentials[k]) for k in sorted(credentials))
        digest = hashlib.sha256(secret.encode()).hexdigest()[:8]
        return f"…{secret[-4:]} · {digest}" if len(secret) >= 12 else f"sha256:{digest}"

    def __repr__(self):
        return f"<Provider {self.key} {self.name}>"


_registry: dict[str, Provider] = {}


def register(cls):
    """Class decorator: instantiate and register a provider under its platform key."""
    instance = cls()
    if len(instance.key) != 4:
        raise ValueError(f"platform key must be 4 characters: {instance.key!r}")
    _registry[instance.key] = instance
    return cls


def load():
    import importlib

    for path in PROVIDERS:
        importlib.import_module(path)


def get(key: str) -> Provider:
    if not _registry:
        load()
    return _registry[key]


def all_providers() -> list[Provider]:
    if not _registry:
        load()
    return sorted(_registry.values(), key=lambda p: (CATEGORIES.index(p.category), p.name))
