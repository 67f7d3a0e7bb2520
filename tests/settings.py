"""Test settings: the real settings with test-safe environment defaults."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("HTTPS", "false")
# Tests start their webhook receivers on 127.0.0.1 over plain HTTP.
os.environ.setdefault("WEBHOOK_ALLOW_LOCAL_TARGETS", "true")
os.environ.setdefault("CREDENTIAL_KEYS", "L_tDv4BeFOJk4LioepsE36Zx_QuGDzo2jNai9dxtVSA=")

from portal.settings import *  # noqa: E402,F403
from portal.settings import DATABASES, STATIC_ROOT  # noqa: E402

# Plain static storage: tests must not depend on a collectstatic run.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Several test runs at once (parallel work, or a run beside `make run`) each take their own
# SQLite test database file: TEST_SQLITE_NAME=var/mine.sqlite3.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and os.environ.get("TEST_SQLITE_NAME"):
    DATABASES["default"]["TEST"]["NAME"] = os.environ["TEST_SQLITE_NAME"]
