"""Audit diffs: only changed fields, secrets masked before and after."""

from integrations import audit
from integrations.models import AuditEvent
from tests import factory


def test_it_lists_only_the_fields_that_changed():
    changes = audit.diff({"a": 1, "b": "x", "c": True}, {"a": 2, "b": "x", "c": False})
    assert changes == [{"field": "a", "before": 1, "after": 2}, {"field": "c", "before": True, "after": False}]


def test_it_lists_fields_that_appear_or_disappear():
    changes = audit.diff({"old": "gone"}, {"new": "here"})
    assert changes == [
        {"field": "new", "before": None, "after": "here"},
        {"field": "old", "before": "gone", "after": None},
    ]


def test_it_masks_secret_fields_before_and_after_but_says_they_changed():
    changes = audit.diff({"secret": "s3cr3t-old", "n": 1}, {"secret": "s3cr3t-new", "n": 1}, sensitive=("secret",))
    assert changes == [{"field": "secret", "before": "••••••", "after": "••••••"}]
    assert "s3cr3t" not in str(changes)


def test_it_leaves_an_unchanged_secret_out():
    assert audit.diff({"secret": "same"}, {"secret": "same"}, sensitive=("secret",)) == []


def test_it_prefixes_field_names():
    assert audit.diff({"frequency": "daily"}, {"frequency": "weekly"}, prefix="invoices.") == [
        {"field": "invoices.frequency", "before": "daily", "after": "weekly"}
    ]


def test_it_records_actor_integration_and_time(db, clearbooks):
    user = factory.make_admin()
    event = audit.record(audit.Action.ENABLED, actor=user, integration=clearbooks, changes=[{"field": "x"}])
    event.refresh_from_db()
    assert (event.actor, event.actor_name, event.integration) == (user, "alice", clearbooks)
    assert event.created_at is not None
    assert event.changes == [{"field": "x"}]


def test_it_names_the_system_when_no_user_acted(db, clearbooks):
    event = audit.record(audit.Action.ENABLED, integration=clearbooks)
    assert (event.actor, event.actor_name) == (None, "system")


def test_it_keeps_the_actor_name_when_the_user_is_deleted(db, clearbooks):
    user = factory.make_admin()
    audit.record(audit.Action.DISABLED, actor=user, integration=clearbooks)
    user.delete()
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_name) == (None, "alice")


def test_it_shows_switches_as_on_or_off_and_other_booleans_as_yes_or_no():
    from integrations.templatetags.audit_tags import audit_value

    assert (audit_value(True, "enabled"), audit_value(False, "enabled")) == ("on", "off")
    assert (audit_value(True, "bills.fetch_on_first_link"), audit_value(False, "x")) == ("yes", "no")
    assert (audit_value(None), audit_value(""), audit_value(0), audit_value("daily")) == (
        "(empty)",
        "(empty)",
        0,
        "daily",
    )
