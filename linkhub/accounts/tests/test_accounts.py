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
def test_signup_logs_in_and_records_the_default_consent(client):
    """Without a choice, a new account gets the operator's default, own (a personal model only)."""
    r = client.post(
        "/account/signup/",
        {"username": "carol", "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"},
    )
    assert r.status_code == 200  # the consent level is a required choice on the form
    assert not User.objects.filter(username="carol").exists()
    page = client.get("/account/signup/")
    assert b'value="own" required id="id_training_consent_1" checked' in page.content
    r = client.post(
        "/account/signup/",
        {
            "username": "carol",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
            "training_consent": "own",
        },
    )
    assert r.status_code == 302
    carol = User.objects.get(username="carol")
    assert Profile.objects.get(user=carol).training_consent == "own"
    assert ConsentChange.objects.filter(
        user=carol, source="signup", from_consent="", to_consent="own"
    ).exists()
    assert client.get("/links/").status_code == 200


def test_signup_with_another_level_and_an_operator_default(client, settings, make_user):
    client.post(
        "/account/signup/",
        {
            "username": "dave",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
            "training_consent": "shared",
        },
    )
    assert Profile.objects.get(user__username="dave").training_consent == "shared"
    settings.DEFAULT_TRAINING_CONSENT = "none"
    erin = make_user("erin")
    assert Profile.objects.get(user=erin).training_consent == "none"


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


def test_consent_levels_in_the_ui_are_audited_from_and_to(client, alice):
    client.force_login(alice)
    client.post("/account/settings/consent/", {"training_consent": "shared"})
    assert Profile.objects.get(user=alice).training_consent == "shared"
    page = client.get("/account/settings/")
    assert b"badge-on" in page.content and b"the shared model" in page.content
    client.post("/account/settings/consent/", {"training_consent": "none"})
    assert Profile.objects.get(user=alice).training_consent == "none"
    assert b"badge-off" in client.get("/account/settings/").content
    client.post("/account/settings/consent/", {"training_consent": "everything"})  # refused
    assert Profile.objects.get(user=alice).training_consent == "none"
    assert list(
        ConsentChange.objects.filter(user=alice)
        .order_by("id")
        .values_list("from_consent", "to_consent", "source")
    ) == [
        ("", "own", "signup"),
        ("own", "shared", "ui"),
        ("shared", "none", "ui"),
    ]


def test_consent_api(alice_api, alice, bob_api):
    assert alice_api.get("/api/account/consent/").json() == {"training_consent": "own"}
    r = alice_api.patch("/api/account/consent/", {"training_consent": "shared"}, format="json")
    assert r.status_code == 200 and r.json() == {"training_consent": "shared"}
    assert ConsentChange.objects.filter(
        user=alice, source="api", from_consent="own", to_consent="shared"
    ).exists()
    # The same level again changes and records nothing.
    alice_api.patch("/api/account/consent/", {"training_consent": "shared"}, format="json")
    assert ConsentChange.objects.filter(user=alice).count() == 2
    for body in ({"training_consent": "perhaps"}, {}, {"training_consent": True}):
        assert alice_api.patch("/api/account/consent/", body, format="json").status_code == 400
    assert bob_api.get("/api/account/consent/").json() == {"training_consent": "own"}  # each their own


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
