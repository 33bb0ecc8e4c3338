"""API key authentication: header forms, rejected keys, hashed storage, last use, and the createapikey command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.models import Asset
from keys.models import ApiKey

PROTECTED = "/api/v1/jobs"


def get_with(header: str | None, path: str = PROTECTED):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client.get(path)


def assert_401(response) -> None:
    assert response.status_code == 401, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] in ("not_authenticated", "authentication_failed"), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert response["WWW-Authenticate"].split()[0] in ("Token", "Bearer")


def owner_of(raw_key: str) -> str:
    """The username a key acts as, seen through an object it creates."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
    response = client.post("/api/v1/assets", {"file": SimpleUploadedFile("a.bin", b"x" * 64)}, format="multipart")
    assert response.status_code == 201, response.content
    return Asset.objects.get(id=response.json()["id"]).owner.username


@pytest.mark.parametrize("keyword", ["Token", "Bearer"])
def test_token_and_bearer_headers_both_authenticate(alice, keyword):
    _, raw = alice

    response = get_with(f"{keyword} {raw}")

    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def test_a_key_acts_as_its_owner(alice, bob):
    assert owner_of(alice[1]) == "alice"
    assert owner_of(bob[1]) == "bob"


def test_no_credentials_gives_401(db):
    assert_401(get_with(None))


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda raw: f"Token {raw[:-1]}{'A' if raw[-1] != 'A' else 'B'}", id="wrong-secret-right-prefix"),
        pytest.param(lambda raw: "Token mh_live_" + "x" * 40, id="unknown-key"),
        pytest.param(lambda raw: "Token not-a-mediahub-key", id="foreign-format"),
        pytest.param(lambda raw: f"Token {raw}x", id="key-with-extra-character"),
    ],
)
def test_wrong_key_gives_401(alice, make_header):
    assert_401(get_with(make_header(alice[1])))


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Bearer",
        "Token a b",
        "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=",
        "mh_live_abcdefgh",
    ],
)
def test_malformed_header_gives_401(alice, header):
    assert_401(get_with(header))


def test_the_raw_key_without_keyword_gives_401(alice):
    assert_401(get_with(alice[1]))


def test_revoked_key_gives_401(alice):
    _, raw = alice
    ApiKey.objects.filter(owner=alice[0]).update(revoked_at=timezone.now())

    assert_401(get_with(f"Token {raw}"))
    assert_401(get_with(f"Bearer {raw}"))


def test_expired_key_gives_401(alice):
    _, raw = alice
    ApiKey.objects.filter(owner=alice[0]).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert_401(get_with(f"Token {raw}"))


def test_key_with_future_expiry_still_works(alice):
    _, raw = alice
    ApiKey.objects.filter(owner=alice[0]).update(expires_at=timezone.now() + timedelta(hours=1))

    assert get_with(f"Token {raw}").status_code == 200


def test_key_of_a_deactivated_user_gives_401(alice):
    user, raw = alice
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert_401(get_with(f"Token {raw}"))


def test_key_is_stored_hashed(alice):
    user, raw = alice
    [key] = ApiKey.objects.filter(owner=user)
    secret_part = raw[len(key.prefix) :]
    assert len(secret_part) >= 32

    for field in ApiKey._meta.concrete_fields:
        value = str(field.value_from_object(key))
        assert raw not in value, field.name
        assert secret_part not in value, field.name
    assert raw.startswith(key.prefix)


def test_use_of_a_key_records_last_used_time_and_ip(alice):
    user, raw = alice
    assert ApiKey.objects.get(owner=user).last_used_at is None
    before = timezone.now()

    assert get_with(f"Token {raw}").status_code == 200

    key = ApiKey.objects.get(owner=user)
    assert key.last_used_at is not None and before <= key.last_used_at <= timezone.now()
    assert key.last_used_ip == "127.0.0.1"


def test_a_rejected_key_does_not_record_use(alice):
    user, raw = alice
    ApiKey.objects.filter(owner=user).update(revoked_at=timezone.now())

    get_with(f"Token {raw}")

    assert ApiKey.objects.get(owner=user).last_used_at is None


# --- createapikey ---------------------------------------------------------------------------------------------


def create_key(username: str) -> str:
    out = StringIO()
    call_command("createapikey", username, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines, "createapikey printed nothing"
    return lines[-1].strip()


def test_createapikey_creates_the_user_and_prints_a_working_key_last(db):
    raw = create_key("carol")

    carol = get_user_model().objects.get(username="carol")
    assert not carol.has_usable_password()
    assert ApiKey.objects.filter(owner=carol).count() == 1
    assert get_with(f"Token {raw}").status_code == 200
    assert owner_of(raw) == "carol"


def test_createapikey_for_an_existing_user_adds_a_second_working_key(db):
    first = create_key("carol")
    second = create_key("carol")

    assert first != second
    assert get_user_model().objects.filter(username="carol").count() == 1
    assert ApiKey.objects.filter(owner__username="carol").count() == 2
    assert owner_of(first) == "carol"
    assert owner_of(second) == "carol"


def test_createapikey_keeps_an_existing_users_password(alice):
    user, _ = alice

    create_key("alice")

    user.refresh_from_db()
    assert user.check_password("alice-password")
