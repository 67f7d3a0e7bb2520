"""Helpers for the Clear Books client tests: fast retry policies and whole reads.

Keys are secrets even here: never print them or put them in test ids.
"""

import socket

import pytest

from integrations.clearbooks.errors import ClearBooksError
from integrations.clearbooks.reads import read_pages
from integrations.clearbooks.retries import RetryPolicy

SMALL = {"seed": "client", "customers": 7, "suppliers": 5, "both": 2, "invoices": 12, "bills": 9, "projects": 4}


class Sleeps(list):
    """Records the waits a policy asks for instead of waiting (bounded, fast tests)."""

    def __call__(self, seconds):
        self.append(seconds)


def fast(attempts=3):
    sleeps = Sleeps()
    return RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.05, sleep=sleeps), sleeps


def read_all(sandbox, key, data_type, policy=None, **kwargs):
    pages = read_pages(sandbox.wsdl_url, key, data_type, policy=policy or fast()[0], **kwargs)
    return list(pages)


def flat(pages):
    return [record for page in pages for record in page]


def read_error(sandbox, key, data_type, policy=None, **kwargs) -> ClearBooksError:
    with pytest.raises(ClearBooksError) as info:
        read_all(sandbox, key, data_type, policy=policy, **kwargs)
    return info.value


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
