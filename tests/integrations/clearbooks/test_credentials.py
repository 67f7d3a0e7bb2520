"""Checking a key live against the sandbox: valid, rejected or unreachable.

Keys are secrets even here: never print them or put them in test ids.
"""

from integrations import registry
from integrations.clearbooks.credentials import validate_credentials
from integrations.registry import CredentialStatus

from .reading import SMALL, fast, flat, free_port


def test_it_validates_keys_as_valid_rejected_or_unreachable(sandbox):
    good = sandbox.make_key(**SMALL)
    bad = sandbox.make_key(seed="x", revoked=True)

    assert validate_credentials(sandbox.wsdl_url, good).status == CredentialStatus.VALID
    rejected = validate_credentials(sandbox.wsdl_url, bad)
    assert rejected.status == CredentialStatus.REJECTED
    assert "rejected this API key" in rejected.message
    typo = validate_credentials(sandbox.wsdl_url, good[:-1] + ("0" if good[-1] != "0" else "1"))
    assert typo.status == CredentialStatus.REJECTED
    empty = validate_credentials(sandbox.wsdl_url, "")
    assert empty.status == CredentialStatus.REJECTED
    assert "saw no key" in empty.detail
    policy, _ = fast()
    nowhere = validate_credentials(f"http://127.0.0.1:{free_port()}/api/accounting/wsdl/", good, policy=policy)
    assert nowhere.status == CredentialStatus.UNREACHABLE
    assert "couldn't reach Clear Books" in nowhere.message


def test_it_validates_through_the_provider_with_the_integration_settings(sandbox):
    provider = registry.get("jhch")
    key = sandbox.make_key(**SMALL)

    assert provider.validate_credentials({}, {"api_key": key}).status == CredentialStatus.VALID
    pages = list(provider.read({"timeout": 30}, {"api_key": key}, "trackingCategories"))
    assert len(flat(pages)) == 4
