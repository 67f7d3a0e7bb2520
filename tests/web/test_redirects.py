"""The one safe-redirect helper: back where the form came from, never to another site."""

import pytest
from django.test import RequestFactory

from portal.web.redirects import is_ours, safe_next

DEFAULT = "/connections/1/"


def post(data=None, **extra):
    return RequestFactory().post("/action/", data or {}, **extra)


@pytest.mark.parametrize(
    ("target", "ours"),
    [
        ("/pulls/?page=2", True),
        ("http://testserver/pulls/", True),
        ("https://evil.example/", False),
        ("//evil.example/", False),
        ("javascript:alert(1)", False),
        ("", False),
        (None, False),
    ],
)
def test_it_tells_our_urls_from_others(target, ours):
    assert is_ours(post(), target) is ours


def test_it_returns_to_next_when_ours_else_the_default():
    assert safe_next(post({"next": "/pulls/"}), DEFAULT) == "/pulls/"
    assert safe_next(post({"next": "https://evil.example/"}), DEFAULT) == DEFAULT
    assert safe_next(post(), DEFAULT) == DEFAULT


def test_it_uses_the_referring_page_only_when_asked():
    request = post(HTTP_REFERER="http://testserver/companies/")
    assert safe_next(request, DEFAULT) == DEFAULT
    assert safe_next(request, DEFAULT, referer=True) == "http://testserver/companies/"
    assert safe_next(post(HTTP_REFERER="https://evil.example/"), DEFAULT, referer=True) == DEFAULT
    both = post({"next": "/pulls/"}, HTTP_REFERER="http://testserver/companies/")
    assert safe_next(both, DEFAULT, referer=True) == "/pulls/"  # next wins


def test_it_refuses_plain_http_from_a_secure_page():
    request = post({"next": "http://testserver/pulls/"}, secure=True)
    assert safe_next(request, DEFAULT) == DEFAULT
