"""Accounts: `adduser`, the demo users, logging in and out, and Django admin for superusers only."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrations.models import AuditEvent, Integration
from portal import demo

STRONG = "plum-orbit-kettle-93"


def adduser(*args, **kwargs):
    out = io.StringIO()
    call_command("adduser", *args, stdout=out, **kwargs)
    return out.getvalue()


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(STRONG + "\n")
    return str(path)


def roles(username):
    return sorted(User.objects.get(username=username).groups.values_list("name", flat=True))


def test_it_creates_a_user_with_a_role_from_a_password_file(db, password_file, client):
    out = adduser("sara", "--role", "support", "--password-file", password_file, "--email", "sara@example.com")
    assert "Created sara with the Support role." in out
    user = User.objects.get(username="sara")
    assert (user.email, roles("sara"), user.is_staff, user.is_superuser) == (
        "sara@example.com",
        ["Support"],
        False,
        False,
    )
    # Through the login page: django-axes' backend needs the request that Client.login() does not pass.
    response = client.post("/accounts/login/", {"username": "sara", "password": STRONG})
    assert response.status_code == 302 and response.wsgi_request.user.username == "sara"


def test_it_asks_for_the_password_twice_without_a_file(db, monkeypatch):
    answers = iter([STRONG, STRONG])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    adduser("adam", "--role", "Admin")
    assert roles("adam") == ["Admin"]
    assert User.objects.get(username="adam").check_password(STRONG)


def test_it_refuses_passwords_that_differ(db, monkeypatch):
    answers = iter([STRONG, STRONG + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="The two passwords did not match"):
        adduser("adam", "--role", "admin")
    assert not User.objects.filter(username="adam").exists()


def test_it_refuses_an_unknown_role(db, password_file):
    with pytest.raises(CommandError, match="Unknown role 'owner': choose one of admin, support."):
        adduser("olivia", "--role", "owner", "--password-file", password_file)
    assert not User.objects.filter(username="olivia").exists()


@pytest.mark.parametrize(
    "password, reason",
    [
        ("short1", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("8236491057", "This password is entirely numeric."),
    ],
)
def test_it_refuses_weak_passwords(db, tmp_path, password, reason):
    path = tmp_path / "weak"
    path.write_text(password)
    with pytest.raises(CommandError, match="That password is too weak") as error:
        adduser("wendy", "--role", "support", "--password-file", str(path))
    assert reason in str(error.value)
    assert not User.objects.filter(username="wendy").exists()


def test_it_refuses_an_empty_or_missing_password_file(db, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(CommandError, match="is empty"):
        adduser("wendy", "--role", "support", "--password-file", str(empty))
    with pytest.raises(CommandError, match="Cannot read the password file"):
        adduser("wendy", "--role", "support", "--password-file", str(tmp_path / "nope"))


def test_it_refuses_a_bad_email(db, password_file):
    with pytest.raises(CommandError, match="is not a valid e-mail address"):
        adduser("sara", "--role", "support", "--password-file", password_file, "--email", "not-an-email")


def test_it_refuses_an_existing_user_unless_asked_to_update(db, password_file, client):
    adduser("sara", "--role", "support", "--password-file", password_file)
    with pytest.raises(CommandError, match="A user called 'sara' already exists. Use --update"):
        adduser("sara", "--role", "admin", "--password-file", password_file)
    assert roles("sara") == ["Support"]
    out = adduser("sara", "--role", "admin", "--update", "--password-file", password_file)
    assert "Updated sara with the Admin role." in out
    assert roles("sara") == ["Admin"]  # one role: Support was taken away


def test_it_keeps_the_password_when_updating_with_an_empty_answer(db, password_file, monkeypatch):
    adduser("sara", "--role", "support", "--password-file", password_file)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "")
    adduser("sara", "--role", "admin", "--update")
    user = User.objects.get(username="sara")
    assert user.check_password(STRONG)
    assert roles("sara") == ["Admin"]


def test_it_seeds_the_demo_users_and_switches_clear_books_on_idempotently(db, sandbox):
    Integration.objects.filter(key="jhch").update(enabled=False)
    first = demo.seed(io.StringIO())
    second = demo.seed(io.StringIO())
    logins = len(demo.DEMO_USERS)
    assert first[:logins] == second[:logins]  # the companies' lines are the demo data's own business
    for username, role, password in demo.DEMO_USERS:
        assert roles(username) == [role]
        assert User.objects.get(username=username).check_password(password)
        assert any(username in line and password in line for line in first)
    assert User.objects.filter(username__in=["admin", "support"]).count() == 2
    assert Integration.objects.get(key="jhch").enabled is True
    assert AuditEvent.objects.filter(action="enabled").count() == 1


def test_it_prints_the_demo_logins_from_the_command(db, sandbox):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "Log in as 'admin' (Admin), password 'admin-demo-password'" in out.getvalue()


def test_it_logs_in_and_out(db, client, password_file):
    adduser("sara", "--role", "support", "--password-file", password_file)
    response = client.post(reverse("login"), {"username": "sara", "password": STRONG})
    assert response.status_code == 302
    assert client.get(reverse("integrations:integration-list")).status_code == 200
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert client.get(reverse("integrations:integration-list")).status_code == 302


def test_it_says_plainly_when_a_login_fails(db, client):
    response = client.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    assert "That username and password did not match." in response.content.decode()


def test_it_keeps_django_admin_for_superusers_only(db, client, admin_client):
    assert admin_client.get("/admin/").status_code == 302  # the Admin role is not Django admin
    superuser = User.objects.create_superuser("root", "root@example.com", STRONG)
    client.force_login(superuser)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/integrations/auditevent/").status_code == 200
    assert client.get("/admin/integrations/integration/").status_code == 200


def test_it_never_lets_django_admin_change_or_delete_audit_events(db, client, admin_user):
    from integrations import services

    services.set_enabled(Integration.objects.get(key="jhch"), True, admin_user)
    event = AuditEvent.objects.get()
    client.force_login(User.objects.create_superuser("root", "root@example.com", STRONG))
    page = client.get(f"/admin/integrations/auditevent/{event.pk}/change/")
    assert page.status_code == 200  # viewable
    assert (
        "Save" not in page.content.decode().split("submit-row")[-1][:200] or 'name="_save"' not in page.content.decode()
    )
    assert client.post(f"/admin/integrations/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/integrations/auditevent/{event.pk}/change/", {"action": "disabled"}).status_code == 403
    assert client.get("/admin/integrations/auditevent/add/").status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, action="enabled").exists()
