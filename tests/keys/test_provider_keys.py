"""Provider credentials: encrypted at rest, masked everywhere, validated through the adapters' hook, rotated."""

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from jobs.models import WebhookEndpoint
from keys import provider_checks
from keys.models import AuditEvent, ProviderCredential
from keys.provider_checks import CheckResult

SECRET = "key_live_runway_8d1f2c3b4a5e6f7g"


@pytest.fixture
def check(monkeypatch):
    """Stand in for the runway adapter's check for one test."""
    calls = []

    def runway_check(parts):
        calls.append(parts)
        return (
            CheckResult("quota_exceeded", "Credits exhausted.") if "broke" in parts["secret"] else CheckResult("active")
        )

    monkeypatch.setitem(provider_checks._CHECKS, "runway", runway_check)  # the real adapter's check is restored
    return calls


def test_a_credential_is_stored_encrypted_and_only_shown_masked(alice_api):
    response = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": SECRET, "label": "main"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["masked"] == "…6f7g"
    assert (body["provider"], body["label"], body["status"]) == ("runway", "main", "active")
    for text in (response.content, alice_api.get("/api/v1/provider-keys").content,
                 alice_api.get(f"/api/v1/provider-keys/{body['id']}").content):  # fmt: skip
        assert SECRET.encode() not in text
        assert b"secret_encrypted" not in text
    stored = ProviderCredential.objects.get(id=body["id"])
    assert SECRET not in stored.secret_encrypted
    assert stored.parts() == {"secret": SECRET}


def test_kling_takes_an_access_key_and_a_secret_key_as_one_encrypted_document(alice_api):
    missing = alice_api.post("/api/v1/provider-keys", {"provider": "kling", "secret": SECRET})
    created = alice_api.post(
        "/api/v1/provider-keys", {"provider": "kling", "access_key": "AK123456", "secret_key": "SK98765432"}
    )

    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"access_key", "secret_key", "secret"}
    assert created.status_code == 201 and created.json()["masked"] == "…5432"
    stored = ProviderCredential.objects.get(id=created.json()["id"])
    assert stored.parts() == {"access_key": "AK123456", "secret_key": "SK98765432"}
    assert "AK123456" not in stored.secret_encrypted


def test_validate_calls_the_adapters_check_and_records_the_answer(alice_api, check):
    good = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": SECRET}).json()
    broke = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": "broke-0000"}).json()

    first = alice_api.post(f"/api/v1/provider-keys/{good['id']}/validate").json()
    second = alice_api.post(f"/api/v1/provider-keys/{broke['id']}/validate").json()

    assert check == [{"secret": SECRET}, {"secret": "broke-0000"}]
    assert (first["status"], first["last_validated_at"] is not None) == ("active", True)
    assert (second["status"], second["status_message"]) == ("quota_exceeded", "Credits exhausted.")


def test_validate_when_the_provider_is_unreachable_is_a_clear_503(alice_api, settings):
    settings.MEDIAHUB_PROVIDERS = {"luma": {"base_url": "http://127.0.0.1:9"}}  # nothing listens there
    created = alice_api.post("/api/v1/provider-keys", {"provider": "luma", "secret": SECRET}).json()

    response = alice_api.post(f"/api/v1/provider-keys/{created['id']}/validate")

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "provider_check_unavailable"
    assert error["message"].startswith("Luma could not check the key: Could not reach the provider")
    assert SECRET not in error["message"]
    shown = alice_api.get(f"/api/v1/provider-keys/{created['id']}").json()
    assert (shown["status"], shown["last_validated_at"]) == ("active", None)


def test_revoke_deletes_the_encrypted_secret(alice_api, check):
    created = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": SECRET}).json()

    assert alice_api.delete(f"/api/v1/provider-keys/{created['id']}").status_code == 204

    stored = ProviderCredential.objects.get(id=created["id"])
    assert (stored.status, stored.secret_encrypted) == ("revoked", "")
    assert alice_api.post(f"/api/v1/provider-keys/{created['id']}/validate").status_code == 409
    actions = list(AuditEvent.objects.filter(target=created["id"]).values_list("action", flat=True))
    assert sorted(actions) == ["provider_key.create", "provider_key.revoke"]


def test_another_user_never_reaches_a_credential(alice_api, bob_api, check):
    created = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": SECRET}).json()

    assert created["id"] not in bob_api.get("/api/v1/provider-keys").content.decode()
    assert bob_api.post(f"/api/v1/provider-keys/{created['id']}/validate").status_code == 404
    assert bob_api.delete(f"/api/v1/provider-keys/{created['id']}").status_code == 404
    assert check == []


def test_rotate_encryption_keys_reencrypts_everything_with_the_newest_key(alice_api, settings, receiver, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MEDIAHUB_ENCRYPTION_KEYS = [old]
    credential = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": SECRET}).json()
    endpoint = alice_api.post("/api/v1/webhooks", {"url": receiver.url}, format="json").json()
    account_secret = alice_api.get("/api/v1/webhooks/secret").json()["secret"]

    settings.MEDIAHUB_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys")
    settings.MEDIAHUB_ENCRYPTION_KEYS = [new]  # the old key is gone: everything must read with the new one

    assert ProviderCredential.objects.get(id=credential["id"]).parts() == {"secret": SECRET}
    assert WebhookEndpoint.objects.get(id=endpoint["id"]).secret == endpoint["secret"]
    assert alice_api.get("/api/v1/webhooks/secret").json()["secret"] == account_secret
    output = capsys.readouterr().out
    assert "provider credentials: 1 re-encrypted" in output
    assert SECRET not in output and endpoint["secret"] not in output


def test_credentials_never_reach_the_logs(alice_api, check, caplog):
    caplog.set_level("DEBUG")
    created = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": SECRET}).json()
    alice_api.post(f"/api/v1/provider-keys/{created['id']}/validate")
    alice_api.post("/api/v1/provider-keys", {"provider": "nope", "secret": SECRET})  # a 400 logs a warning

    assert SECRET not in caplog.text
    assert SECRET not in json.dumps(list(AuditEvent.objects.values("details")))
