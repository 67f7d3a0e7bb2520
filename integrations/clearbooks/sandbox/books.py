"""Deterministic UK books generated from a BookSpec (invoices and bills: ledgers.py; changes: changes.py).

Every record is a dict of wire strings keyed by the field names in wsdl.TYPES, so
rendering is a lookup; fields that start with `_` are the sandbox's own (roles,
ledger, parsed dates) and never reach the wire. Each section draws from its own
random stream seeded by the spec's seed, so the same key gives the same books in any
process, on any day of the anchor's month.
"""

import html
import random
import string
from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from . import changes, ledgers, ukdata
from .formats import money, phone, wire_datetime
from .keys import BookSpec

STATEMENTS = f"https://secure.clearbooks.co.uk/s/{ledgers.CLEARBOOKS_ACCOUNT}:"

DATA_TYPES = (
    "customers",
    "suppliers",
    "invoices",
    "bills",
    "chartOfAccounts",
    "bankAccounts",
    "trackingCategories",
    "paymentMethods",
    "currencies",
)


def vat_number(rng: random.Random) -> str:
    """A GB VAT number whose check digits pass HMRC's modulus 97 test."""
    digits = [rng.randint(1 if i == 0 else 0, 9) for i in range(7)]
    total = sum(d * w for d, w in zip(digits, range(8, 1, -1), strict=True))
    check = -total % 97
    return "GB" + "".join(map(str, digits)) + f"{check:02d}"


def _postcode(rng, area):
    letters = rng.choice(ukdata.POSTCODE_LETTERS) + rng.choice(ukdata.POSTCODE_LETTERS)
    return f"{area}{rng.randint(1, 28)} {rng.randint(1, 9)}{letters}"


class Books:
    """One key's books: generated once, then changed only by touch() and delete().

    render.py caches each record's XML in the record itself (`_xml`); a change drops it.
    """

    def __init__(self, spec: BookSpec, today: date | None = None):
        self.spec = spec
        today = today or datetime.now(UTC).date()
        self.anchor = date.fromisoformat(spec.anchor) if spec.anchor else today.replace(day=1)
        self.pristine = True
        self.changes = 0  # touches and deletions so far
        self.currencies = self._currencies()
        self.bank_accounts = self._bank_accounts()
        self.account_codes = self._account_codes()
        self.projects = self._projects()
        self.payment_methods = self._payment_methods()
        self.entities = self._entities()
        self.invoices = ledgers.generate(self)
        self.split_ledgers()
        self._by_modified = {}  # role -> (its entities, their dates sorted, their positions in that order)

    def split_ledgers(self):
        self._sales = [inv for inv in self.invoices if inv["_ledger"] == "sales"]
        self._purchases = [inv for inv in self.invoices if inv["_ledger"] == "purchases"]

    def _rng(self, section: str) -> random.Random:
        return random.Random(f"{self.spec.seed}:{section}")

    # Reference lists

    def _currencies(self):
        return [
            {"id": str(i), "name": name, "code": code, "symbol": symbol}
            for i, (name, code, symbol) in enumerate(ukdata.CURRENCIES[: self.spec.currencies], start=1)
        ]

    def _bank_accounts(self):
        rng = self._rng("bank")
        bank = rng.choice(ukdata.BANKS)
        out = []
        for i in range(1, self.spec.bank_accounts + 1):
            template, account_type = ukdata.OWN_BANK_ACCOUNTS[(i - 1) % len(ukdata.OWN_BANK_ACCOUNTS)]
            name = template.format(bank=bank)
            if i > len(ukdata.OWN_BANK_ACCOUNTS):
                name = f"{name} {i}"
            balance = Decimal(rng.randint(-250_000, 4_500_000)) / 100
            if account_type in (1, 6, 7):
                balance = -abs(balance) / 4
            last = self.anchor - timedelta(days=rng.randint(1, 20))
            out.append(
                {
                    "last_date": last.strftime("%d %b %Y"),
                    "id": str(i),
                    "bank_name": name,
                    "account_type": str(account_type),
                    "balance": money(balance),
                    "currency": "1" if self.spec.currencies else "0",
                    "gl_account_code": str(7502000 + i),
                    "total_mc": money(balance),
                }
            )
        return out

    def _account_codes(self):
        codes = []
        for code, name, group, vat, sales, purchases in ukdata.CHART:
            codes.append(
                {
                    "id": str(code),
                    "account_name": name,
                    "group_name": group,
                    "default_vat_rate": vat,
                    "show_sales": "true" if sales else "false",
                    "show_purchases": "true" if purchases else "false",
                    "customAccountCode": ukdata.CUSTOM_CODES.get(code, ""),
                    "hidden": "true" if code in ukdata.HIDDEN_CODES else "false",
                }
            )
        for bank in self.bank_accounts:
            codes.append(
                {
                    "id": bank["gl_account_code"],
                    "account_name": html.escape(bank["bank_name"], quote=False),
                    "group_name": "Current assets",
                    "default_vat_rate": ukdata.OUT,
                    "show_sales": "false",
                    "show_purchases": "false",
                    "customAccountCode": "",
                    "hidden": "false",
                }
            )
        codes.sort(key=lambda c: c["id"])
        wanted = self.spec.account_codes
        if wanted is not None:
            codes = codes[:wanted]
            for k in range(len(codes), wanted):
                codes.append(
                    {
                        "id": str(1003001 + k),
                        "account_name": f"Sales - product line {k + 1}",
                        "group_name": "Revenue",
                        "default_vat_rate": "",
                        "show_sales": "true",
                        "show_purchases": "false",
                        "customAccountCode": "",
                        "hidden": "false",
                    }
                )
        return codes

    def _projects(self):
        rng = self._rng("projects")
        town = rng.choice(ukdata.TOWNS)[0]
        out = []
        for i in range(1, self.spec.projects + 1):
            name, description = ukdata.PROJECTS[(i - 1) % len(ukdata.PROJECTS)]
            name = name.format(town=town)
            if i > len(ukdata.PROJECTS):
                name = f"{name} {(i - 1) // len(ukdata.PROJECTS) + 1}"
            out.append(
                {
                    "id": str(i),
                    "description": description.format(town=town),
                    "projectName": name,
                    "status": ukdata.PROJECT_STATUSES[(i - 1) % len(ukdata.PROJECT_STATUSES)],
                }
            )
        return out

    def _payment_methods(self):
        out = []
        for i in range(1, self.spec.payment_methods + 1):
            name, closed = ukdata.PAYMENT_METHODS[(i - 1) % len(ukdata.PAYMENT_METHODS)]
            if i > len(ukdata.PAYMENT_METHODS):
                name = f"{name} {(i - 1) // len(ukdata.PAYMENT_METHODS) + 1}"
            out.append({"id": str(i), "name": name, "isClosed": "true" if closed else "false"})
        return out

    # Customers and suppliers

    def _company_name(self, rng, taken):
        for _ in range(20):
            shape = rng.random()
            if shape < 0.45:
                name = f"{rng.choice(ukdata.ADJECTIVES)} {rng.choice(ukdata.TRADES)}"
            elif shape < 0.7:
                name = f"{rng.choice(ukdata.SURNAMES)} & {rng.choice(ukdata.SURNAMES)}"
            elif shape < 0.9:
                name = f"{rng.choice(ukdata.SURNAMES)} {rng.choice(ukdata.TRADES)}"
            else:
                name = f"{rng.choice(ukdata.TOWNS)[0]} {rng.choice(ukdata.TRADES)}"
            suffix = rng.choice(ukdata.SUFFIXES)
            if suffix and not (suffix.startswith("&") and "&" in name):
                name = f"{name} {suffix}"
            if name not in taken:
                break
        else:
            name = f"{name} ({len(taken) + 1})"
        taken.add(name)
        return name

    def _entities(self):
        rng = self._rng("entities")
        spec = self.spec
        both = spec.both_count
        roles = ["c"] * (spec.customers - both) + ["s"] * (spec.suppliers - both) + ["b"] * both
        rng.shuffle(roles)
        taken = set()
        out = []
        oldest = datetime.combine(self.anchor, datetime.min.time()) - timedelta(days=540)
        for i, role in enumerate(roles, start=1):
            name = self._company_name(rng, taken)
            first, last = rng.choice(ukdata.FIRST_NAMES), rng.choice(ukdata.SURNAMES)
            town, county, area, phone_prefix = rng.choice(ukdata.TOWNS)
            base = name.lower()
            for suffix in (" group ltd", " ltd", " limited", " llp", " & co"):
                base = base.removesuffix(suffix)
            slug = "".join(ch for ch in base if ch in string.ascii_lowercase)[:24]
            modified = oldest + timedelta(seconds=rng.randint(0, 539 * 86400))
            has_bank = role != "c" and rng.random() < 0.7
            company_number = ""
            if rng.random() < 0.7 and area in ukdata.SCOTTISH_AREAS:
                company_number = f"SC{rng.randint(100000, 999999)}"
            elif rng.random() < 0.7:
                company_number = f"{rng.randint(1000000, 15999999):08d}"
            entity = {
                "id": str(i),
                "country": "GB",
                "building": rng.choice(ukdata.BUILDINGS).format(n=rng.randint(1, 40)) if rng.random() < 0.5 else "",
                "address2": rng.choice(("", "", "Business Park", "Enterprise Centre", "Trading Estate")),
                "phone2": phone(rng, "07700 900") if rng.random() < 0.4 else "",
                "fax": phone(rng, phone_prefix) if rng.random() < 0.08 else "",
                "website": f"https://www.{slug}.co.uk" if rng.random() < 0.6 else "",
                "date_modified": wire_datetime(modified),
                "external_id": rng.choice(("", "", "", "0", f"CRM-{1000 + i}")),
                "vat_number": vat_number(rng) if rng.random() < 0.6 else "",
                "company_number": company_number,
                "statement_url": f"{STATEMENTS}{ledgers.token(spec.seed, 'e', i)}",
                # Stored HTML-escaped: names with "&" come double-escaped on the wire (docs/clearbooks.md §9, quirk 3).
                "company_name": html.escape(name, quote=False),
                "contact_name": f"{first} {last}" if rng.random() < 0.85 else "",
                "address1": f"{rng.randint(1, 220)} {rng.choice(ukdata.STREETS)}",
                "town": town,
                "county": county,
                "postcode": _postcode(rng, area),
                "email": f"accounts@{slug}.co.uk" if rng.random() < 0.6 else f"{first.lower()}@{slug}.co.uk",
                "phone1": phone(rng, phone_prefix),
                "bankAccount": {
                    "bankName": rng.choice(ukdata.BANKS) if has_bank else "",
                    "name": html.escape(name, quote=False) if has_bank else "",
                    "sortcode": "-".join(str(rng.randint(10, 99)) for _ in range(3)) if has_bank else "",
                    "accountNumber": str(rng.randint(10_000_000, 99_999_999)) if has_bank else "",
                },
                "_roles": {"c": ("customer",), "s": ("supplier",), "b": ("customer", "supplier")}[role],
                "_modified": modified,
            }
            if role in "cb":
                entity["customer"] = {
                    "default_account_code": "1001001",
                    "default_vat_rate": "0.2",
                    "default_credit_terms": rng.choice(("30", "30", "14", "60", "-1")),
                }
            if role in "sb":
                entity["supplier"] = {
                    "default_account_code": str(rng.choice(ukdata.SUPPLIER_DEFAULT_CODES)),
                    "default_vat_rate": rng.choice(("0.2", "0.2", "Manual")),
                    "default_credit_terms": rng.choice(("30", "30", "14", "7")),
                }
            elif rng.random() < 0.1:
                # Like captured entity 1: an empty <supplier/> means "not a supplier".
                entity["supplier"] = {}
            out.append(entity)
        return out

    # Queries

    def records(self, data_type: str) -> list:
        """The records a full sync of a Codat data type reads, in the order the API answers."""
        if data_type in ("customers", "suppliers"):
            role = data_type[:-1]
            return [e for e in self.entities if role in e["_roles"]]
        if data_type == "invoices":
            return self._sales
        if data_type == "bills":
            return self._purchases
        return {
            "chartOfAccounts": self.account_codes,
            "bankAccounts": self.bank_accounts,
            "trackingCategories": self.projects,
            "paymentMethods": self.payment_methods,
            "currencies": self.currencies,
        }[data_type]

    def entities_since(self, role: str | None, since: datetime | None) -> list:
        """Entities of a role (None: every one) modified at or after `since`, in id order.

        As a real server answers from an index on the modified date: an incremental read of a
        few changed entities costs the sandbox little however large the books, so the sync
        benchmark's entity re-sync measures the sync, not a scan of the sandbox's lists.
        """
        version = (id(self.entities), len(self.entities), self.changes)
        index = self._by_modified.get(role)
        if index is None or index[0] != version:
            records = [e for e in self.entities if role is None or role in e["_roles"]]
            order = sorted(range(len(records)), key=lambda i: records[i]["_modified"])
            index = self._by_modified[role] = (version, records, [records[i]["_modified"] for i in order], order)
        _, records, moments, order = index
        if since is None:
            return records
        return [records[i] for i in sorted(order[bisect_left(moments, since) :])]

    def counts(self) -> dict:
        return {data_type: len(self.records(data_type)) for data_type in DATA_TYPES}

    def statuses(self, data_type: str) -> dict:
        out = {}
        for inv in self.records(data_type):
            out[inv["status"]] = out.get(inv["status"], 0) + 1
        return out

    # Changes between syncs (changes.py)

    def touch(self, data_type: str, count: int) -> list[str]:
        """Change `count` records of a data type (a newer date_modified and a changed field); their ids."""
        ids = changes.touch(self, data_type, count)
        self._reindex()
        return ids

    def delete(self, data_type: str, count: int) -> list[str]:
        """Remove `count` records of a data type from the books; their ids."""
        ids = changes.delete(self, data_type, count)
        self._reindex()
        return ids

    def _reindex(self):
        # Now, in the control call, rather than in the next read: a real server keeps its
        # index current as records change, and the benchmarks time that next read.
        for role in list(self._by_modified):
            self.entities_since(role, None)
