"""Test settings: the real settings with test-safe environment defaults."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("HTTPS", "false")
os.environ.setdefault("CREDENTIAL_KEYS", "L_tDv4BeFOJk4LioepsE36Zx_QuGDzo2jNai9dxtVSA=")

from portal.settings import *  # noqa: E402,F403

# Plain static storage: tests must not depend on a collectstatic run.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
