"""Admin for API keys, provider keys and the audit log: no secret ever rendered, revocations and admin changes
audited."""

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.urls import reverse

from keys.models import ApiKey, AuditEvent, ProviderCredential
from keys.services import apikey_create, apikey_rotate, provider_credential_create

OPENAI_SECRET = "sk-admin-test-0123456789QRST"
KLING_ACCESS, KLING_SECRET = "kling-access-CCCC3333", "kling-secret-DDDD4444"


def change_url(obj) -> str:
    """Admin URLs escape "_" in ids (`pk_40…` would read as `pk@…`): build them as the admin does."""
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[quote(obj.pk)])


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", password="root-password")


@pytest.fixture
def staff_client(client, root):
    client.force_login(root)
    return client


@pytest.fixture
def secrets(alice):
    """Alice's fixture key, a rotated one (both its hashes), and two provider keys: everything that must never show."""
    user, fixture_raw = alice
    key, old_raw = apikey_create(owner=user, name="rotated", scopes=["read"], allowed_ips=["10.0.0.0/8"])
    key, new_raw = apikey_rotate(key=key)
    openai = provider_credential_create(owner=user, provider="openai", label="work", secret=OPENAI_SECRET)
    kling = provider_credential_create(owner=user, provider="kling", access_key=KLING_ACCESS, secret_key=KLING_SECRET)
    fixture_key = user.api_keys.exclude(pk=key.pk).get()
    never = [fixture_raw, old_raw, new_raw, OPENAI_SECRET, KLING_ACCESS, KLING_SECRET]
    never += [fixture_key.secret_hash, key.secret_hash, key.previous_secret_hash]
    never += [openai.secret_encrypted, kling.secret_encrypted]
    return {"key": key, "openai": openai, "kling": kling, "never": never}


def test_admin_pages_render_without_secrets_or_hashes(staff_client, secrets):
    key, openai, kling = secrets["key"], secrets["openai"], secrets["kling"]
    AuditEvent.objects.create(action="test.event", target=key.id, details={"note": "hello"})
    pages = {
        "/admin/keys/apikey/": [f"{key.prefix}…", "read", "10.0.0.0/8", "active"],
        change_url(key): [f"{key.prefix}…", "10.0.0.0/8"],
        "/admin/keys/providercredential/": ["…QRST", "…4444", "work"],
        change_url(openai): ["…QRST"],
        change_url(kling): ["…4444"],
        "/admin/keys/auditevent/": ["apikey.rotate", "provider_key.create", "test.event"],
    }
    event = AuditEvent.objects.filter(action="apikey.create").first()
    pages[change_url(event)] = ["apikey.create"]

    for path, expected in pages.items():
        response = staff_client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        for text in expected:
            assert text in html, (path, text)
        for secret in secrets["never"]:
            assert secret not in html, (path, secret)
        assert "secret_encrypted" not in html and "secret_hash" not in html, path


def test_nobody_adds_provider_keys_or_touches_the_audit_log_in_the_admin(staff_client, secrets):
    event = AuditEvent.objects.first()

    assert staff_client.get("/admin/keys/providercredential/add/").status_code == 403
    assert staff_client.get("/admin/keys/apikey/add/").status_code == 403
    assert staff_client.get("/admin/keys/auditevent/add/").status_code == 403
    assert staff_client.post(f"/admin/keys/auditevent/{event.pk}/change/", {"action": "x"}).status_code == 403
    assert staff_client.post(f"/admin/keys/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.action != "x"
    change_page = staff_client.get(f"/admin/keys/auditevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in change_page


def test_the_audit_log_filters_by_action_and_searches_actor_and_target(staff_client, alice, bob):
    alice_key = alice[0].api_keys.get()
    bob_key = bob[0].api_keys.get()
    AuditEvent.objects.create(actor=alice[0], action="apikey.revoke", target=alice_key.id)
    AuditEvent.objects.create(actor=bob[0], action="apikey.rotate", target=bob_key.id)

    revokes = staff_client.get("/admin/keys/auditevent/", {"action": "apikey.revoke"}).content.decode()
    by_bob = staff_client.get("/admin/keys/auditevent/", {"q": "bob"}).content.decode()
    by_target = staff_client.get("/admin/keys/auditevent/", {"q": alice_key.id}).content.decode()

    assert alice_key.id in revokes and bob_key.id not in revokes
    assert bob_key.id in by_bob and alice_key.id not in by_bob
    assert alice_key.id in by_target and bob_key.id not in by_target


def test_the_revoke_action_revokes_through_the_service_and_is_audited(staff_client, root, alice):
    key = alice[0].api_keys.get()

    response = staff_client.post("/admin/keys/apikey/", {"action": "revoke_keys", "_selected_action": [key.id]})

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    event = AuditEvent.objects.get(action="apikey.revoke", target=key.id)
    assert (event.actor, event.ip) == (root, "127.0.0.1")
    listing = staff_client.get("/admin/keys/apikey/").content.decode()
    assert "revoked" in listing


def test_the_provider_key_revoke_action_deletes_the_secret(staff_client, root, secrets):
    openai = secrets["openai"]

    staff_client.post(
        "/admin/keys/providercredential/", {"action": "revoke_credentials", "_selected_action": [openai.id]}
    )

    openai.refresh_from_db()
    assert (openai.status, openai.secret_encrypted) == ("revoked", "")
    assert AuditEvent.objects.filter(action="provider_key.revoke", target=openai.id, actor=root).exists()


def test_an_admin_change_is_audited_through_the_log_entry(staff_client, root, alice):
    key = alice[0].api_keys.get()

    response = staff_client.post(change_url(key), {"name": "renamed", "expires_at_0": "", "expires_at_1": ""})

    assert response.status_code == 302, response.content.decode()[:2000]
    key.refresh_from_db()
    assert key.name == "renamed"
    event = AuditEvent.objects.get(action="admin.change")
    assert (event.actor, event.target) == (root, f"keys.apikey:{key.id}")
    assert event.details["changes"] == [{"changed": {"fields": ["Name"]}}]
    assert key.secret_hash not in str(event.details)


def test_admin_additions_and_bulk_deletions_are_audited(staff_client, root, alice, bob, django_user_model):
    response = staff_client.post(
        "/admin/auth/user/add/",
        {"username": "carol", "password1": "a-long-pass-phrase-1", "password2": "a-long-pass-phrase-1"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    carol = django_user_model.objects.get(username="carol")
    assert AuditEvent.objects.filter(action="admin.add", target=f"auth.user:{carol.pk}", actor=root).exists()

    # Several objects at once: Django bulk-creates these log entries, which sends no post_save.
    keys = [alice[0].api_keys.get(), bob[0].api_keys.get()]
    response = staff_client.post(
        "/admin/keys/apikey/",
        {"action": "delete_selected", "_selected_action": [key.id for key in keys], "post": "yes"},
    )

    assert response.status_code == 302
    assert not ApiKey.objects.filter(pk__in=[key.id for key in keys]).exists()
    deleted = set(AuditEvent.objects.filter(action="admin.delete", actor=root).values_list("target", flat=True))
    assert deleted == {f"keys.apikey:{key.id}" for key in keys}


def test_a_user_with_keys_and_audit_events_can_still_be_deleted(staff_client, root, alice, secrets):
    user = alice[0]

    response = staff_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not ApiKey.objects.filter(owner_id=user.pk).exists()
    assert not ProviderCredential.objects.filter(owner_id=user.pk).exists()
    assert AuditEvent.objects.filter(action="admin.delete", target=f"auth.user:{user.pk}", actor=root).exists()
    assert AuditEvent.objects.filter(action="apikey.create", actor=None).exists()  # kept, actor set to null
