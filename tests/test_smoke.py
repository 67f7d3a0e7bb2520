import pytest


@pytest.mark.django_db
def test_it_sends_anonymous_users_to_login(client):
    response = client.get("/integrations/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_shows_the_login_page(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_it_seeds_the_catalogue_and_roles(db):
    from django.contrib.auth.models import Group

    from integrations.models import Integration

    assert Integration.objects.filter(key="jhch", name="Clear Books", category="Accounting").exists()
    assert set(Group.objects.values_list("name", flat=True)) >= {"Admin", "Support"}
