"""Sign-up, log-in, API tokens, training consent and roles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from linkhub.accounts.models import ApiToken, ConsentChange, Profile
from linkhub.accounts.roles import is_model_owner, is_reviewer

pytestmark = pytest.mark.django_db


def test_role_groups_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= {"reviewers", "model owners"}


def test_roles(alice):
    assert not is_reviewer(alice) and not is_model_owner(alice)
    alice.groups.add(Group.objects.get(name="reviewers"))
    fresh = User.objects.get(pk=alice.pk)
    assert is_reviewer(fresh) and not is_model_owner(fresh)


@pytest.mark.smoke
def test_signup_logs_in_and_records_consent_off_by_default(client):
    r = client.post(
        "/account/signup/",
        {"username": "carol", "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"},
    )
    assert r.status_code == 302
    carol = User.objects.get(username="carol")
    assert Profile.objects.get(user=carol).share_for_training is False
    assert ConsentChange.objects.filter(user=carol, source="signup", share_for_training=False).exists()
    assert client.get("/links/").status_code == 200


def test_signup_with_consent(client):
    client.post(
        "/account/signup/",
        {
            "username": "dave",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
            "share_for_training": "on",
        },
    )
    assert Profile.objects.get(user__username="dave").share_for_training is True


def test_signup_errors_are_shown(client, alice):
    r = client.post("/account/signup/", {"username": "alice", "password1": "x", "password2": "y"})
    assert r.status_code == 200
    assert b"already exists" in r.content
    assert User.objects.count() == 1


def test_signup_can_be_closed(client, settings):
    settings.SIGNUP_OPEN = False
    assert client.get("/account/signup/").status_code == 404


def test_login_and_logout(client, alice):
    r = client.post("/login/", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 302 and r["Location"] == "/links/"
    assert client.post("/logout/").status_code == 302
    assert client.get("/links/").status_code == 302


def test_password_change(client, alice):
    client.force_login(alice)
    r = client.post(
        "/account/password/",
        {
            "old_password": "correct horse battery",
            "new_password1": "another-pass-phrase-99",
            "new_password2": "another-pass-phrase-99",
        },
    )
    assert r.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another-pass-phrase-99")


def test_consent_toggle_in_ui_is_audited(client, alice):
    client.force_login(alice)
    client.post("/account/settings/consent/", {"share_for_training": "on"})
    assert Profile.objects.get(user=alice).share_for_training is True
    page = client.get("/account/settings/")
    assert b"badge-on" in page.content
    client.post("/account/settings/consent/", {})
    assert Profile.objects.get(user=alice).share_for_training is False
    assert list(
        ConsentChange.objects.filter(user=alice).order_by("id").values_list("share_for_training", "source")
    ) == [
        (False, "signup"),
        (True, "ui"),
        (False, "ui"),
    ]


def test_consent_api(alice_api, alice):
    assert alice_api.get("/api/account/consent/").json() == {"share_for_training": False}
    r = alice_api.put("/api/account/consent/", {"share_for_training": True}, format="json")
    assert r.json() == {"share_for_training": True}
    assert ConsentChange.objects.filter(user=alice, source="api", share_for_training=True).exists()
    assert (
        alice_api.put("/api/account/consent/", {"share_for_training": "perhaps"}, format="json").status_code
        == 400
    )


@pytest.mark.smoke
def test_token_login_and_use(alice):
    api = APIClient()
    r = api.post(
        "/api/auth/token/", {"username": "alice", "password": "correct horse battery"}, format="json"
    )
    assert r.status_code == 201
    key = r.json()["token"]
    token = ApiToken.objects.get(pk=r.json()["id"])
    assert token.key_hash != key and key not in token.key_hash  # only a hash is stored
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/links/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": "x"},
        {"username": "alice"},
        {},
    ],
)
def test_token_login_refuses_bad_credentials(alice, payload):
    r = APIClient().post("/api/auth/token/", payload, format="json")
    assert r.status_code == (401 if "password" in payload else 400)
    assert ApiToken.objects.count() == 0


def test_bad_and_revoked_tokens_are_refused(alice_api, alice):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get("/api/links/").status_code == 401
    tokens = alice_api.get("/api/auth/tokens/").json()
    assert len(tokens) == 1 and "key_hash" not in tokens[0]
    assert alice_api.delete(f"/api/auth/tokens/{tokens[0]['id']}/").status_code == 204
    assert alice_api.get("/api/links/").status_code == 401


def test_cannot_revoke_another_users_token(alice_api, bob_api, bob):
    bobs = ApiToken.objects.get(user=bob)
    assert alice_api.delete(f"/api/auth/tokens/{bobs.pk}/").status_code == 404
    assert bob_api.get("/api/links/").status_code == 200


def test_token_pages(client, alice):
    client.force_login(alice)
    client.post("/account/settings/tokens/", {"name": "my script"})
    page = client.get("/account/settings/")
    token = ApiToken.objects.get(user=alice)
    assert b'data-testid="new-token"' in page.content
    assert b"my script" in page.content
    # The key is shown once only.
    assert b'data-testid="new-token"' not in client.get("/account/settings/").content
    client.post(f"/account/settings/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_bookmarklet_is_on_the_settings_page(client, alice):
    client.force_login(alice)
    page = client.get("/account/settings/").content.decode()
    assert "javascript:(function(){" in page and "/links/new/?bookmarklet=1" in page
