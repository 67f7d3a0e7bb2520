"""A Clear Books SOAP sandbox: a real WSGI server speaking the documented protocol.

(Full documentation of the key scheme and control API: see keys.py, state.py and
control.py; this docstring grows with the package.)
"""

from .keys import BookSpec, demo_key, make_key, parse_key, revoked_demo_key

__all__ = ["BookSpec", "demo_key", "make_key", "parse_key", "revoked_demo_key"]
