"""Production settings: `check --deploy` clean, no secret default (DEBUG off without SECRET_KEY or
CREDENTIAL_KEYS refuses to start), and the security headers and cookie flags a browser gets."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent


def manage(*args, env):
    # A clean environment: nothing from this test run (tests.settings, TEST_SQLITE_NAME) leaks in.
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env={**keep, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(tmp_path):
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "HTTPS": "true",
        "ALLOWED_HOSTS": "portal.example.com",
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy-check.sqlite3'}",
        # As production leaves it (off): the local `.env` that `make run` writes turns it on.
        "WEBHOOK_ALLOW_LOCAL_TARGETS": "false",
    }


def test_it_passes_the_deploy_check_with_production_settings(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_refuses_to_start_without_credential_keys_when_debug_is_off(tmp_path):
    """No secret is a default in production: the credential key is never derived from SECRET_KEY there."""
    env = production_env(tmp_path) | {"CREDENTIAL_KEYS": ""}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "CREDENTIAL_KEYS is not set" in result.stderr
    assert "refuses to start without it when DEBUG is off" in result.stderr


def test_the_command_it_names_makes_a_key_without_one(tmp_path):
    env = production_env(tmp_path) | {"CREDENTIAL_KEYS": "", "DEBUG": "true"}
    result = manage("generate_credential_key", env=env)
    assert result.returncode == 0, result.stderr
    Fernet(result.stdout.strip().encode())  # a valid Fernet key


def test_it_warns_when_a_debug_run_derives_the_credential_key(tmp_path):
    env = production_env(tmp_path) | {"CREDENTIAL_KEYS": "", "DEBUG": "true"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "portal.W001" in result.stderr


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    # SECRET_KEY set but empty also keeps a developer's .env from filling it in.
    env = production_env(tmp_path) | {"SECRET_KEY": ""}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "refuses to start without it when DEBUG is off" in result.stderr


# Run inside `manage.py shell` with the production settings: what a browser would get from the
# login page over HTTPS (behind the proxy) and over plain HTTP, as JSON.
PROBE = """
import json
from django.conf import settings
from django.test import Client, override_settings

# Static files by name: this probe runs without collectstatic's manifest.
plain_static = {
    **settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
}
client = Client(HTTP_HOST="portal.example.com")
with override_settings(STORAGES=plain_static):
    page = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    plain = client.get("/accounts/login/")
csrf = page.cookies["csrftoken"]
print(json.dumps({
    "status": page.status_code,
    "headers": dict(page.headers),
    "plain": [plain.status_code, plain.get("Location", "")],
    "csrf_cookie": {"secure": bool(csrf["secure"]), "samesite": csrf["samesite"], "httponly": bool(csrf["httponly"])},
    "session_cookie": [
        settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY, settings.SESSION_COOKIE_SAMESITE
    ],
}))
"""


def test_production_answers_with_the_security_headers_and_secure_cookies(tmp_path):
    result = manage("shell", "-c", PROBE, env=production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    headers = seen["headers"]
    assert seen["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-" not in policy
    assert seen["plain"] == [301, "https://portal.example.com/accounts/login/"]  # plain HTTP goes to HTTPS
    assert seen["csrf_cookie"] == {"secure": True, "samesite": "Lax", "httponly": False}  # forms read no cookie
    assert seen["session_cookie"] == [True, True, "Lax"]


def test_it_warns_when_production_allows_local_webhook_targets(tmp_path):
    """Production leaves WEBHOOK_ALLOW_LOCAL_TARGETS off (the test above); turned on, the deploy check says so."""
    env = production_env(tmp_path) | {"WEBHOOK_ALLOW_LOCAL_TARGETS": "true"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "webhooks.W001" in result.stderr + result.stdout
