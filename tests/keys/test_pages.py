"""The dashboard's settings pages: API keys (secret shown once, revoke, rotate) and provider keys."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from keys import provider_checks
from keys.models import ApiKey, AuditEvent, ProviderCredential, hash_secret
from keys.provider_checks import CheckResult
from keys.services import apikey_create, provider_credential_create

SECRET = re.compile(r"mh_live_[A-Za-z0-9]{40}")
OPENAI_SECRET = "sk-test-0123456789abcdefWXYZ"
KLING_ACCESS, KLING_SECRET = "kling-access-AAAA1111", "kling-secret-BBBB2222"


def browser(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def alice_browser(alice) -> Client:
    return browser(alice[0])


@pytest.fixture
def bob_browser(bob) -> Client:
    return browser(bob[0])


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("staffer", password="staffer-password", is_staff=True)


def api_status(raw_key: str, path: str = "/api/v1/keys") -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
    return client.get(path).status_code


def create_form(**overrides) -> dict:
    return {"name": "laptop", "scopes": ["read", "write"], "expires_on": "", "allowed_networks": ""} | overrides


# --- API keys -----------------------------------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(alice, alice_browser):
    response = alice_browser.post("/settings/keys/", create_form())

    assert response.status_code == 200
    html = response.content.decode()
    secrets_shown = set(SECRET.findall(html))
    assert len(secrets_shown) == 1
    raw = secrets_shown.pop()
    assert "no-store" in response["Cache-Control"]
    assert 'data-copy="new-secret-value"' in html and "js/keys.js" in html
    key = ApiKey.objects.get(owner=alice[0], name="laptop")
    assert key.scopes == ["read", "write"]
    assert key.secret_hash == hash_secret(raw) and raw.startswith(key.prefix)
    assert raw not in str(list(ApiKey.objects.values_list()))
    assert raw not in str(dict(alice_browser.session.items()))

    again = alice_browser.get("/settings/keys/").content.decode()

    assert raw not in again and not SECRET.search(again)
    assert f"{key.prefix}…" in again
    assert api_status(raw) == 200
    event = AuditEvent.objects.get(action="apikey.create", target=key.id)
    assert (event.actor, event.api_key, event.ip) == (alice[0], None, "127.0.0.1")


def test_the_page_lists_the_keys_details(alice, alice_browser):
    key, raw = apikey_create(owner=alice[0], name="ci", scopes=["read"], allowed_ips=["10.0.0.0/8", "2001:db8::/32"])
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now(), last_used_ip="198.51.100.7")

    html = alice_browser.get("/settings/keys/").content.decode()

    for text in ("ci", f"{key.prefix}…", "10.0.0.0/8", "2001:db8::/32", "198.51.100.7", "active", "tests"):
        assert text in html
    assert raw not in html and key.secret_hash not in html


def test_expiry_and_networks_from_the_form(alice, alice_browser):
    day = timezone.now().date() + timedelta(days=3)

    response = alice_browser.post(
        "/settings/keys/", create_form(expires_on=day.isoformat(), allowed_networks="10.1.0.0/16\n\n 2001:db8::1 \n")
    )

    assert response.status_code == 200
    key = ApiKey.objects.get(owner=alice[0], name="laptop")
    assert key.allowed_networks == ["10.1.0.0/16", "2001:db8::1/128"]
    assert key.expires_at == datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"allowed_networks": "10.0.0.0/8\nnot-a-network"}, "is not an IPv4 or IPv6 address or CIDR network"),
        ({"expires_on": "2001-01-01"}, "Give today or a later day."),
        ({"scopes": []}, "This field is required."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_invalid_input_shows_the_form_again_with_400(alice, alice_browser, overrides, message):
    response = alice_browser.post("/settings/keys/", create_form(**overrides))

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert not SECRET.search(html)
    assert not ApiKey.objects.filter(name="laptop").exists()


def test_the_internal_scope_is_offered_to_staff_only(alice, alice_browser, staff):
    assert 'value="internal"' not in alice_browser.get("/settings/keys/").content.decode()
    refused = alice_browser.post("/settings/keys/", create_form(scopes=["read", "internal"]))
    assert refused.status_code == 400
    assert not ApiKey.objects.filter(name="laptop").exists()

    staff_browser = browser(staff)
    assert 'value="internal"' in staff_browser.get("/settings/keys/").content.decode()
    created = staff_browser.post("/settings/keys/", create_form(scopes=["internal"]))
    assert created.status_code == 200
    assert ApiKey.objects.get(owner=staff, name="laptop").scopes == ["internal"]


def test_revoke_stops_the_key_and_is_audited(alice, alice_browser):
    key, raw = apikey_create(owner=alice[0], name="old", scopes=["read"])
    assert api_status(raw) == 200

    response = alice_browser.post(f"/settings/keys/{key.id}/revoke")

    assert response.status_code == 302 and response["Location"] == "/settings/keys/"
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_status(raw) == 401
    assert AuditEvent.objects.filter(action="apikey.revoke", target=key.id, actor=alice[0]).exists()
    html = alice_browser.get("/settings/keys/").content.decode()
    assert "Revoked the key" in html and "revoked" in html
    assert f"/settings/keys/{key.id}/rotate" not in html


def test_rotate_shows_the_new_secret_once_and_the_old_one_works_during_the_grace(alice, alice_browser, settings):
    settings.MEDIAHUB_KEY_ROTATION_GRACE_HOURS = 24
    key, old = apikey_create(owner=alice[0], name="server", scopes=["read"])

    response = alice_browser.post(f"/settings/keys/{key.id}/rotate")

    assert response.status_code == 200
    html = response.content.decode()
    new = set(SECRET.findall(html))
    assert len(new) == 1
    new = new.pop()
    assert new != old and old not in html
    key.refresh_from_db()
    assert key.secret_hash == hash_secret(new)
    assert key.previous_valid_until > timezone.now() + timedelta(hours=23)
    assert f"keeps working until <strong>{key.previous_valid_until:%Y-%m-%d %H:%M} UTC" in html
    assert api_status(old) == 200
    assert api_status(new) == 200
    assert new not in alice_browser.get("/settings/keys/").content.decode()

    ApiKey.objects.filter(pk=key.pk).update(previous_valid_until=timezone.now() - timedelta(seconds=1))
    assert api_status(old) == 401
    assert api_status(new) == 200


def test_rotating_a_revoked_key_is_refused_with_a_warning(alice, alice_browser):
    key, _ = apikey_create(owner=alice[0], name="gone", scopes=["read"])
    alice_browser.post(f"/settings/keys/{key.id}/revoke")

    response = alice_browser.post(f"/settings/keys/{key.id}/rotate", follow=True)

    html = response.content.decode()
    assert "cannot be rotated" in html
    assert not SECRET.search(html)


# --- provider keys ------------------------------------------------------------------------------------------


@pytest.fixture
def check_calls(monkeypatch):
    """A test adapter for openai: records the parts it was given and says "invalid"."""
    calls = []

    def check(parts):
        calls.append(parts)
        return CheckResult("invalid", "The provider said 401.")

    monkeypatch.setitem(provider_checks._CHECKS, "openai", check)  # the real adapter's check is restored
    return calls


def test_adding_a_provider_key_lists_it_masked(alice, alice_browser):
    response = alice_browser.post(
        "/settings/provider-keys/", {"provider": "openai", "label": "work", "secret": OPENAI_SECRET}
    )

    assert response.status_code == 302 and response["Location"] == "/settings/provider-keys/"
    credential = ProviderCredential.objects.get(owner=alice[0])
    assert credential.parts() == {"secret": OPENAI_SECRET}
    html = alice_browser.get("/settings/provider-keys/").content.decode()
    assert "…WXYZ" in html and "work" in html
    assert OPENAI_SECRET not in html and credential.secret_encrypted not in html


def test_kling_needs_both_parts(alice, alice_browser):
    missing = alice_browser.post("/settings/provider-keys/", {"provider": "kling", "access_key": KLING_ACCESS})

    assert missing.status_code == 400
    html = missing.content.decode()
    assert "Required for this provider." in html
    assert KLING_ACCESS not in html  # password inputs never render the value back
    assert not ProviderCredential.objects.exists()

    both = {"provider": "kling", "access_key": KLING_ACCESS, "secret_key": KLING_SECRET}
    assert alice_browser.post("/settings/provider-keys/", both).status_code == 302
    credential = ProviderCredential.objects.get(owner=alice[0])
    assert credential.parts() == {"access_key": KLING_ACCESS, "secret_key": KLING_SECRET}
    html = alice_browser.get("/settings/provider-keys/").content.decode()
    assert "…2222" in html
    assert KLING_ACCESS not in html and KLING_SECRET not in html


@pytest.mark.parametrize(
    "form, message",
    [
        ({"provider": "runway"}, "Required for this provider."),
        ({"provider": "runway", "secret": OPENAI_SECRET, "access_key": KLING_ACCESS}, "Not used by runway."),
        ({"provider": "nope", "secret": OPENAI_SECRET}, "Select a valid choice."),
    ],
)
def test_mismatched_parts_give_400_without_echoing_secrets(alice, alice_browser, form, message):
    response = alice_browser.post("/settings/provider-keys/", form)

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert OPENAI_SECRET not in html and KLING_ACCESS not in html
    assert not ProviderCredential.objects.exists()


def test_validate_records_the_adapters_answer(alice, alice_browser, check_calls):
    credential = provider_credential_create(owner=alice[0], provider="openai", secret=OPENAI_SECRET)

    response = alice_browser.post(f"/settings/provider-keys/{credential.id}/validate", follow=True)

    assert response.status_code == 200
    assert check_calls == [{"secret": OPENAI_SECRET}]
    credential.refresh_from_db()
    assert credential.status == "invalid" and credential.last_validated_at is not None
    html = response.content.decode()
    assert "The provider said 401." in html and "Invalid" in html
    assert OPENAI_SECRET not in html
    assert AuditEvent.objects.filter(action="provider_key.validate", target=credential.id, actor=alice[0]).exists()


def test_validate_when_the_provider_is_unreachable_warns(alice, alice_browser, settings):
    settings.MEDIAHUB_PROVIDERS = {"luma": {"base_url": "http://127.0.0.1:9"}}  # nothing listens there
    credential = provider_credential_create(owner=alice[0], provider="luma", secret=OPENAI_SECRET)

    response = alice_browser.post(f"/settings/provider-keys/{credential.id}/validate", follow=True)

    assert response.status_code == 200
    assert "Luma could not check the key" in response.content.decode()
    credential.refresh_from_db()
    assert (credential.status, credential.last_validated_at) == ("active", None)


def test_revoking_a_provider_key_deletes_its_secret(alice, alice_browser):
    credential = provider_credential_create(owner=alice[0], provider="openai", secret=OPENAI_SECRET)

    response = alice_browser.post(f"/settings/provider-keys/{credential.id}/revoke")

    assert response.status_code == 302
    credential.refresh_from_db()
    assert (credential.status, credential.secret_encrypted) == ("revoked", "")
    html = alice_browser.get("/settings/provider-keys/").content.decode()
    assert f"/settings/provider-keys/{credential.id}/validate" not in html


# --- who may do what ----------------------------------------------------------------------------------------


def test_another_user_gets_404_on_my_key_and_credential(alice, bob_browser):
    key, raw = apikey_create(owner=alice[0], name="mine", scopes=["read"])
    credential = provider_credential_create(owner=alice[0], provider="openai", secret=OPENAI_SECRET)

    for path in (
        f"/settings/keys/{key.id}/revoke",
        f"/settings/keys/{key.id}/rotate",
        f"/settings/provider-keys/{credential.id}/revoke",
        f"/settings/provider-keys/{credential.id}/validate",
    ):
        assert bob_browser.post(path).status_code == 404, path

    key.refresh_from_db()
    credential.refresh_from_db()
    assert (key.revoked_at, key.rotated_at) == (None, None)
    assert credential.status == "active"
    assert api_status(raw) == 200
    pages = "".join(bob_browser.get(path).content.decode() for path in ("/settings/keys/", "/settings/provider-keys/"))
    assert key.prefix not in pages and credential.id not in pages


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/settings/"),
        ("get", "/settings/keys/"),
        ("post", "/settings/keys/"),
        ("post", "/settings/keys/{key_id}/revoke"),
        ("post", "/settings/keys/{key_id}/rotate"),
        ("get", "/settings/provider-keys/"),
        ("post", "/settings/provider-keys/"),
        ("post", "/settings/provider-keys/{credential_id}/revoke"),
        ("post", "/settings/provider-keys/{credential_id}/validate"),
    ],
)
def test_anonymous_users_are_sent_to_log_in(client, alice, method, path):
    key, _ = apikey_create(owner=alice[0], name="mine", scopes=["read"])
    credential = provider_credential_create(owner=alice[0], provider="openai", secret=OPENAI_SECRET)

    response = getattr(client, method)(path.format(key_id=key.id, credential_id=credential.id))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    key.refresh_from_db()
    assert key.revoked_at is None and key.rotated_at is None


def test_forms_need_the_csrf_token(alice):
    key, _ = apikey_create(owner=alice[0], name="mine", scopes=["read"])
    credential = provider_credential_create(owner=alice[0], provider="openai", secret=OPENAI_SECRET)
    client = browser(alice[0], enforce_csrf_checks=True)
    posts = [
        ("/settings/keys/", create_form()),
        (f"/settings/keys/{key.id}/revoke", {}),
        (f"/settings/keys/{key.id}/rotate", {}),
        ("/settings/provider-keys/", {"provider": "openai", "secret": OPENAI_SECRET}),
        (f"/settings/provider-keys/{credential.id}/revoke", {}),
        (f"/settings/provider-keys/{credential.id}/validate", {}),
    ]

    for path, data in posts:
        assert client.post(path, data).status_code == 403, path

    key.refresh_from_db()
    credential.refresh_from_db()
    assert (key.revoked_at, key.rotated_at, credential.status) == (None, None, "active")
    assert ApiKey.objects.filter(owner=alice[0]).count() == 2

    client.get("/settings/keys/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post("/settings/keys/", create_form(csrfmiddlewaretoken=token))
    assert response.status_code == 200
    assert SECRET.search(response.content.decode())


def test_the_pages_load_their_script_and_run_no_inline_script(alice, alice_browser):
    for path in ("/settings/keys/", "/settings/provider-keys/"):
        html = alice_browser.get(path).content.decode()
        assert '<script src="/static/js/keys.js" defer></script>' in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+=", html), path
    assert 'href="/settings/keys/"' in alice_browser.get("/").content.decode()
