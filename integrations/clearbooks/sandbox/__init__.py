"""A Clear Books SOAP sandbox: a real WSGI server speaking the documented protocol.

No machine here reaches the real Clear Books, so the demo and every test link
companies to this server over real HTTP. It serves:

- `GET /api/accounting/wsdl/`: the WSDL (wsdl.py), written from the documented facts
  only, with soap:address pointing back at this server's own host and port;
- `POST /api/accounting/soap/`: listEntities, listInvoices, listAccountCodes,
  listBankAccounts, listProjects, listPaymentMethods and listCurrencies;
- `/_sandbox/<action>`: control for tests and demos (POST JSON, see below).

Protocol (docs/clearbooks.md): both `authenticate` header shapes (an `apiKey` child element or
attribute, in the accounting or legacy namespace); a missing key answers the fault
`Login Failed : no api key set`, an unknown or revoked key `Login Failed`, both as
SOAP 1.1 Faults with faultcode `Receiver` and HTTP 500. Paging by record offset with
page sizes per operation (listInvoices 100, listEntities 1000, listProjects 1000 by
default), an empty page past the end. listEntities filters by `type` (customer,
supplier, empty for both), `modifiedSince` (YYYY-MM-DD, `YYYY-MM-DD HH:MM:SS` or ISO;
inclusive, against date_modified; times in UTC), `companyName` and `id`. listInvoices
filters by `ledger` (sales, purchases, empty for both), `status` (all, valid = not
voided, voided/invalid, draft, paid, unpaid; the other documented values match
nothing), `id` and `entityId`, and ignores the deprecated `modifiedSince`. The wire
copies the captures: `SOAP-ENV`/`ns1` prefixes, the response element in the SOAP-ENV
namespace, wrappers `entities`, `createInvoicesReturn` (sic), `accountCodes`,
`projects`, `return` (listBankAccounts: bankAccounts + total), `paymentMethods`,
`currencies`; qualified records (`ns1:Invoice`) with unqualified fields; Entity
fields as in the current DOCS (company_name, contact_name, address1, town, county,
postcode, email, phone1 as elements, the rest attributes); Invoice and Item
attributes with `description` as an element; Project id/description attributes,
projectName/status elements; BankAccountListItem last_date attribute; Currency and
PaymentMethod elements. Dates `YYYY-MM-DD HH:MM:SS`, booleans true/false, money
as plain text without a fixed scale. Company and account names containing "&" come
double-escaped (`&amp;amp;`), as do currency symbols (`&amp;pound;`, by design).
Some customer-only entities carry an empty `<supplier/>`, as captured entity 1 does.

Keys (keys.py). A key is `sbx` + base32 of a compact spec + a 16-hex HMAC, so it
carries the recipe of its own books and any process can make one the running sandbox
accepts; anything else is unknown (`Login Failed`). Keys are [a-z0-9] only, 21 to 200
characters (demo keys about 100), and their repr is masked (`<sandbox API key>`) so a
failing assertion never prints one. `make_key(**spec)` takes the fields of `BookSpec`:

    seed ("sandbox")      the random seed: same spec, same books, in any process
    customers (25)        entities listEntities answers for type=customer
    suppliers (15)        entities listEntities answers for type=supplier
    both (3)              how many of those are the same entities (clamped to the smaller)
    invoices (120)        sales ledger documents (INV prefix, type S)
    bills (80)            purchases ledger documents (PUR prefix, type P), with line items
    voided, voided_bills  how many of each are voided (default: 1 in 25)
    account_codes (None)  None: the standard UK chart (the 77 captured codes, with
                          "Bank Account 1" replaced by one 7502xxx code per bank account:
                          79 with 3 bank accounts); N: exactly N codes
    bank_accounts (3), projects (6), payment_methods (5), currencies (3, GBP first)
    anchor (None)         YYYY-MM-DD the books end on; None: 1st of the current month (UTC)
    revoked (False)       always Login Failed (a key revoked in Clear Books)
    revoke_after (0)      Login Failed after N calls since the last reset (0: never)

so `make_key(seed="x", invoices=101, customers=0)` gives exactly 101 sales invoices
and no customers. `demo_key(company_name)` and `revoked_demo_key(company_name)` give
the demo seeding deterministic keys per demo company.

Control (state.py, control.py): `reset`, `configure(failure_rate, rate_limit_rate,
latency_ms, seed, oversized_mb, page_sizes)`, `config`, `fail_next(kind, count, key,
operation, after, fault_string, delay_ms)`, `revoke(key, after_calls)`,
`touch(key, data_type, count)`, `delete(key, data_type, count)`, `counts(key)`,
`statuses(key, data_type)`, `calls(key)`, `injected()` (failures answered, by kind);
in-process through LocalControl (the pytest `sandbox` fixture), from other processes through HttpControl(base_url) or
`POST /_sandbox/<action>` with the parameters as a JSON object. Data types are the
Codat names: customers, suppliers, invoices, bills, chartOfAccounts, bankAccounts,
trackingCategories, paymentMethods (and currencies for counts).

Run it with `python manage.py clearbooks_sandbox --port 8001` (loopback only).
"""

from .control import HttpControl, LocalControl
from .keys import BookSpec, demo_key, make_key, parse_key, revoked_demo_key
from .server import SandboxServer
from .state import ControlError, SandboxState

__all__ = [
    "BookSpec",
    "ControlError",
    "HttpControl",
    "LocalControl",
    "SandboxServer",
    "SandboxState",
    "demo_key",
    "make_key",
    "parse_key",
    "revoked_demo_key",
]
