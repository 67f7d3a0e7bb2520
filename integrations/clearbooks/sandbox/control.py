"""Driving a sandbox: the same methods in-process (LocalControl) and over HTTP (HttpControl).

End-to-end tests run the portal's workers and browsers in other processes, so
everything a test can do to the sandbox it can also do by POSTing JSON to
`/_sandbox/<action>` on the sandbox's own port. API keys go in the JSON body only.
"""

import requests

from .keys import make_key as _make_key
from .state import ControlError


class _Control:
    """The control API; subclasses say how an action reaches the sandbox."""

    def _call(self, action, **params):
        raise NotImplementedError

    def make_key(self, **spec) -> str:
        """A key the sandbox accepts, whose books follow `spec` (see keys.BookSpec)."""
        return _make_key(**spec)

    def reset(self) -> dict:
        return self._call("reset")

    def configure(self, **settings) -> dict:
        """failure_rate, rate_limit_rate (0..1), latency_ms, seed, oversized_mb, page_sizes {operation: n}."""
        return self._call("configure", **settings)

    def config(self) -> dict:
        return self._call("config")

    def set_page_size(self, operation: str, size: int) -> dict:
        return self._call("configure", page_sizes={operation: size})

    def fail_next(self, kind="http500", count=1, **narrowing) -> dict:
        """Fail the next `count` calls; narrowing: key, operation, after, fault_string, delay_ms."""
        return self._call("fail_next", kind=kind, count=count, **narrowing)

    def revoke(self, key: str, after_calls: int = 0) -> dict:
        return self._call("revoke", key=key, after_calls=after_calls)

    def touch(self, key: str, data_type: str, count: int) -> list[str]:
        return self._call("touch", key=key, data_type=data_type, count=count)["ids"]

    def delete(self, key: str, data_type: str, count: int) -> list[str]:
        return self._call("delete", key=key, data_type=data_type, count=count)["ids"]

    def counts(self, key: str) -> dict:
        return self._call("counts", key=key)

    def statuses(self, key: str, data_type: str) -> dict:
        return self._call("statuses", key=key, data_type=data_type)

    def calls(self, key: str | None = None) -> int:
        return self._call("calls", key=key)["calls"]

    def injected(self) -> dict:
        """Failures answered since the last reset, by kind: {"http500": 12, "slow": 3}."""
        return self._call("injected")


class LocalControl(_Control):
    """Control of a sandbox running in this process (its SandboxState)."""

    def __init__(self, state):
        self.state = state

    def _call(self, action, **params):
        if action == "config":
            return self.state.config()
        return getattr(self.state, action)(**params)

    def books(self, key):
        """The key's Books object itself, for assertions on exact records (in-process only)."""
        return self.state.books(key)


class HttpControl(_Control):
    """Control of a sandbox in another process, over HTTP; `base_url` like http://127.0.0.1:8001."""

    def __init__(self, base_url: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, action, **params):
        response = self._session.post(f"{self.base_url}/_sandbox/{action}", json=params, timeout=self.timeout)
        payload = response.json()
        if response.status_code != 200:
            raise ControlError(payload.get("error", f"HTTP {response.status_code}"))
        return payload

    def __repr__(self):
        return f"HttpControl({self.base_url!r})"
