"""Sandbox API keys: each key carries the recipe of its own books.

A key is `sbx` + base32 of a compact spec ("c0,i101|x": one letter and a number per
size that differs from the default, then the seed) + 16 hex digits of an HMAC over it.
The sandbox needs no registry of keys, so any process (the test run, a qcluster
worker, the demo seeding, a browser test) can make a key the running sandbox will
accept; a key with a wrong or missing MAC (a typo, a made-up key) is unknown and
answers `Login Failed`, as the real service does. Keys are lowercase letters and digits
only, 21 characters for the default books and at most 200 (make_key refuses longer).
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from dataclasses import asdict, dataclass

# Not a secret worth protecting: it only tells sandbox keys from typos.
_SECRET = os.environ.get("CLEARBOOKS_SANDBOX_SECRET", "clearbooks-sandbox-v1").encode()
PREFIX = "sbx"
_MAC_LEN = 16

# Sizes are capped so nobody can make the sandbox build books that exhaust memory.
LIMITS = {
    "customers": 50_000,
    "suppliers": 50_000,
    "both": 50_000,
    "invoices": 200_000,
    "bills": 200_000,
    "voided": 200_000,
    "voided_bills": 200_000,
    "account_codes": 5_000,
    "bank_accounts": 500,
    "projects": 20_000,
    "payment_methods": 500,
    "currencies": 12,
    "revoke_after": 1_000_000,
}
# One letter per size in the key's payload, e.g. "c0,i101|x" (the seed follows the bar).
_CODES = {
    "customers": "c",
    "suppliers": "p",
    "both": "b",
    "invoices": "i",
    "bills": "l",
    "voided": "v",
    "voided_bills": "w",
    "account_codes": "a",
    "bank_accounts": "k",
    "projects": "j",
    "payment_methods": "m",
    "currencies": "u",
    "anchor": "d",
    "revoked": "r",
    "revoke_after": "x",
}
_NAMES = {v: k for k, v in _CODES.items()}
# The first keys carried JSON with these names; they still work (the demo database may hold one).
_JSON_NAMES = {**{v: k for k, v in _CODES.items() if k != "revoke_after"}, "s": "seed", "ra": "revoke_after"}
MAX_KEY_LENGTH = 200  # what the Link page's key field takes


@dataclass(frozen=True)
class BookSpec:
    """What one key's books hold.

    `customers` and `suppliers` are what listEntities answers for type customer and
    type supplier; `both` of them are the same entities (so there are customers +
    suppliers - both entities). `invoices` and `bills` are the sales and purchases
    ledgers, of which `voided` and `voided_bills` are voided (default: 1 in 25).
    `account_codes` None means the full standard chart plus one code per bank account.
    `anchor` (YYYY-MM-DD) is the day the books end; None means the first day of the
    current month. `revoked` keys always fail; `revoke_after` fails after N calls.
    """

    seed: str = "sandbox"
    customers: int = 25
    suppliers: int = 15
    both: int = 3
    invoices: int = 120
    bills: int = 80
    voided: int | None = None
    voided_bills: int | None = None
    account_codes: int | None = None
    bank_accounts: int = 3
    projects: int = 6
    payment_methods: int = 5
    currencies: int = 3
    anchor: str | None = None
    revoked: bool = False
    revoke_after: int = 0

    def __post_init__(self):
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and 0 <= value <= limit):
                raise ValueError(f"{name} must be a whole number from 0 to {limit}")
        if not isinstance(self.seed, str) or not 0 < len(self.seed) <= 80:
            raise ValueError("seed must be a text of 1 to 80 characters")
        if self.anchor is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(self.anchor)):
            raise ValueError("anchor must be a date as YYYY-MM-DD")

    @property
    def both_count(self):
        return min(self.both, self.customers, self.suppliers)

    @property
    def voided_count(self):
        return min(self.invoices, self.invoices // 25 if self.voided is None else self.voided)

    @property
    def voided_bills_count(self):
        return min(self.bills, self.bills // 25 if self.voided_bills is None else self.voided_bills)


class SandboxKey(str):
    """A key whose repr hides it, so a failing assertion or a debugger never prints the secret."""

    __slots__ = ()

    def __repr__(self):
        return "<sandbox API key>"


def _mac(payload: bytes) -> str:
    return hmac.new(_SECRET, payload, hashlib.sha256).hexdigest()[:_MAC_LEN]


def _encode(spec: BookSpec) -> bytes:
    defaults = BookSpec()
    items = []
    for name, code in _CODES.items():
        value = getattr(spec, name)
        if value != getattr(defaults, name):
            items.append(code + (str(value).replace("-", "") if name == "anchor" else str(int(value))))
    return (",".join(items) + "|" + (spec.seed if spec.seed != defaults.seed else "")).encode()


def _decode(payload: bytes) -> BookSpec:
    if payload.startswith(b"{"):
        return BookSpec(**{_JSON_NAMES[k]: v for k, v in json.loads(payload).items()})
    sizes, _, seed = payload.decode().partition("|")
    spec = {"seed": seed} if seed else {}
    for item in filter(None, sizes.split(",")):
        name, value = _NAMES[item[0]], item[1:]
        if name == "anchor":
            spec[name] = f"{value[:4]}-{value[4:6]}-{value[6:]}"
        elif name == "revoked":
            spec[name] = value == "1"
        else:
            spec[name] = int(value)
    return BookSpec(**spec)


def make_key(**spec) -> str:
    """A sandbox API key whose books follow `spec` (the fields of BookSpec)."""
    payload = _encode(BookSpec(**spec))
    body = base64.b32encode(payload).decode().rstrip("=").lower()
    key = f"{PREFIX}{body}{_mac(payload)}"
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"the key would be {len(key)} characters, over {MAX_KEY_LENGTH}: use a shorter seed")
    return SandboxKey(key)


def parse_key(key: str) -> BookSpec | None:
    """The spec of a sandbox key, or None when the sandbox does not know the key."""
    if not isinstance(key, str) or not key.startswith(PREFIX) or len(key) < len(PREFIX) + _MAC_LEN + 1:
        return None
    body, mac = key[len(PREFIX) : -_MAC_LEN], key[-_MAC_LEN:]
    try:
        payload = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(_mac(payload), mac):
        return None
    try:
        return _decode(payload)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def spec_dict(spec: BookSpec) -> dict:
    return asdict(spec)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "demo"


def demo_key(company_name: str) -> str:
    """The demo key for a named demo company: the same name always gives the same key and books.

    Sizes vary a little by name so the demo companies do not look cloned.
    """
    digest = hashlib.sha256(company_name.encode()).digest()
    return make_key(
        seed=f"demo:{_slug(company_name)}",
        customers=18 + digest[0] % 30,
        suppliers=10 + digest[1] % 15,
        both=digest[2] % 4,
        invoices=90 + digest[3] % 160,
        bills=60 + digest[4] % 90,
        projects=3 + digest[5] % 6,
    )


def revoked_demo_key(company_name: str) -> str:
    """A demo key the sandbox always rejects with `Login Failed`, as for a key revoked in Clear Books."""
    return make_key(seed=f"demo:{_slug(company_name)}", revoked=True)
