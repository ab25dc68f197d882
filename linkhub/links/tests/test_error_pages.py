import pytest

pytestmark = pytest.mark.django_db


def test_404_page_is_the_apps_own(client, alice):
    client.force_login(alice)
    r = client.get("/links/999999/")
    assert r.status_code == 404
    assert b"Back to your links" in r.content
