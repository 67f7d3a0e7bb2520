"""Checking an API key live, while the company's user waits on the Link page."""

from __future__ import annotations

from dataclasses import replace

from ..registry import CredentialCheck, CredentialStatus, ErrorKind
from .errors import ClearBooksError
from .redaction import ApiKey
from .retries import RetryPolicy, call


def validate_credentials(
    wsdl_url: str, api_key: str, timeout: float = 60, *, policy: RetryPolicy | None = None
) -> CredentialCheck:
    """Check a key with one cheap call (listCurrencies, which takes no parameters): valid,
    rejected or unreachable.

    A person is waiting, so transient failures get at most one more try.
    """
    policy = policy or RetryPolicy.from_settings()
    policy = replace(policy, attempts=min(policy.attempts, 2), max_delay=min(policy.max_delay, 5.0))
    try:
        call(wsdl_url, ApiKey(api_key), "listCurrencies", {}, timeout, policy)
    except ClearBooksError as exc:
        if exc.kind == ErrorKind.AUTH:
            return CredentialCheck(
                CredentialStatus.REJECTED,
                "Clear Books rejected this API key. Copy it again from Settings > Configure system > API keys "
                "in Clear Books and paste the whole key.",
                exc.detail,
            )
        return CredentialCheck(
            CredentialStatus.UNREACHABLE,
            f"{exc.message} We couldn't check the key; try again in a few minutes.",
            exc.detail,
        )
    return CredentialCheck(CredentialStatus.VALID, "Clear Books accepted the API key.")
