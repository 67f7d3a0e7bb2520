"""API keys made and revoked leave audit events, from the page, `/apiKeys` and the command,
naming who acted and the key (its name and id) but never the key itself."""

import base64
import json

import pytest
from django.core import serializers
from django.core.management import call_command

from integrations.models import AuditEvent
from portal.api.models import ApiKey
from tests.api.conftest import basic

pytestmark = pytest.mark.django_db
A = AuditEvent.Action
KEY_LABEL = "billing service (API key)"


def every_audit_row_as_text() -> str:
    return serializers.serialize("json", AuditEvent.objects.all())


def assert_in_no_audit_row(key):
    text = every_audit_row_as_text()
    for secret in (key, base64.b64encode(key.encode()).decode(), key[:8]):
        assert secret not in text
        assert json.dumps(secret)[1:-1] not in text


def test_the_page_audits_create_and_revoke_under_the_admin(admin_client, admin_user):
    response = admin_client.post("/settings/api-keys/", {"name": "warehouse"})
    key = response.context["new_key"]["key"]
    row = ApiKey.objects.get(name="warehouse")
    created = AuditEvent.objects.get(action=A.API_KEY_CREATED)
    assert (created.actor, created.actor_name, created.target, created.target_id) == (
        admin_user,
        "alice",
        "warehouse",
        str(row.pk),
    )
    admin_client.post(f"/settings/api-keys/{row.pk}/revoke/")
    admin_client.post(f"/settings/api-keys/{row.pk}/revoke/")  # already revoked: no second event
    revoked = AuditEvent.objects.get(action=A.API_KEY_REVOKED)
    assert (revoked.actor, revoked.target_id) == (admin_user, str(row.pk))
    assert revoked.changes == [{"field": "status", "before": "active", "after": "revoked"}]
    assert_in_no_audit_row(key)
    assert "API key created" in admin_client.get("/activity/").content.decode()


def test_the_api_audits_create_and_delete_under_the_keys_name(api, api_key):
    created = api.post("/api/apiKeys", {"name": "ci"}, format="json").json()
    event = AuditEvent.objects.get(action=A.API_KEY_CREATED, target_id=created["id"])
    assert (event.actor, event.actor_name, event.target) == (None, KEY_LABEL, "ci")
    assert api.delete(f"/api/apiKeys/{created['id']}").status_code == 204
    revoked = AuditEvent.objects.get(action=A.API_KEY_REVOKED)
    assert (revoked.actor_name, revoked.target_id) == (KEY_LABEL, created["id"])
    assert_in_no_audit_row(created["apiKey"])
    assert_in_no_audit_row(api_key[1])


def test_a_refused_create_leaves_no_event(api, settings):
    settings.API_MAX_KEYS = 1
    assert api.post("/api/apiKeys", {"name": "one too many"}, format="json").status_code == 409
    assert not AuditEvent.objects.filter(action=A.API_KEY_CREATED, target="one too many").exists()


def test_the_command_audits_under_its_name(capsys):
    call_command("create_api_key", "nightly export")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    event = AuditEvent.objects.get(action=A.API_KEY_CREATED)
    assert (event.actor, event.actor_name, event.target) == (None, "manage.py create_api_key", "nightly export")
    assert_in_no_audit_row(key)


def test_a_revoked_key_no_longer_answers_and_its_revocation_is_on_record(api, anon_api, api_key):
    _, key = api_key
    other = api.post("/api/apiKeys", {"name": "other"}, format="json").json()
    anon_api.credentials(HTTP_AUTHORIZATION=basic(other["apiKey"]))
    assert anon_api.delete(f"/api/apiKeys/{api_key[0].pk}").status_code == 204
    assert api.get("/api/integrations").status_code == 401
    assert AuditEvent.objects.get(action=A.API_KEY_REVOKED).actor_name == "other (API key)"
    assert_in_no_audit_row(key)
