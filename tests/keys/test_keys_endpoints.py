"""/api/v1/keys: create (secret once), list masked, revoke, rotate with a grace period; scopes; networks; audit."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from keys.models import ApiKey, AuditEvent


def client_for(raw: str, address: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def make_key(api: APIClient, **body) -> dict:
    response = api.post("/api/v1/keys", {"name": "ci", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_shows_the_secret_once_and_stores_only_its_hash(alice_api):
    created = make_key(alice_api, name="deploy", scopes=["read"])

    secret = created["secret"]
    assert secret.startswith("mh_live_") and created["masked"] == secret[:16] + "…"
    assert (created["name"], created["scopes"], created["status"]) == ("deploy", ["read"], "active")
    listed = {key["id"]: key for key in alice_api.get("/api/v1/keys").json()["results"]}
    assert listed[created["id"]]["secret"] is None
    assert secret not in alice_api.get(f"/api/v1/keys/{created['id']}").content.decode()
    stored = ApiKey.objects.get(id=created["id"])
    assert secret not in (stored.secret_hash, stored.prefix) and len(stored.secret_hash) == 64
    assert client_for(secret).get("/api/v1/jobs").status_code == 200


def test_scopes_limit_what_a_key_can_do(alice_api, alice_clip):
    reader = client_for(make_key(alice_api, scopes=["read"])["secret"])
    writer = client_for(make_key(alice_api, scopes=["write"])["secret"])
    body = {"operation": "transcode", "input": alice_clip["id"]}

    assert reader.get("/api/v1/jobs").status_code == 200
    refused = reader.post("/api/v1/jobs", body, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": "permission_denied", "message": "This API key lacks the 'write' scope."}
    assert reader.delete(f"/api/v1/assets/{alice_clip['id']}").status_code == 403
    assert writer.get("/api/v1/jobs").status_code == 403
    assert writer.post("/api/v1/keys", {"name": "x"}, format="json").status_code == 403  # keys need admin
    assert reader.post("/api/v1/keys", {"name": "x"}, format="json").status_code == 403


def test_unknown_scopes_and_staff_scopes_are_refused(alice_api):
    unknown = alice_api.post("/api/v1/keys", {"name": "x", "scopes": ["root"]}, format="json")
    internal = alice_api.post("/api/v1/keys", {"name": "x", "scopes": ["internal"]}, format="json")

    assert unknown.status_code == 400 and "scopes.0" in unknown.json()["error"]["fields"]
    assert internal.status_code == 400
    assert internal.json()["error"]["fields"]["scopes"] == ["Only staff accounts can hold the internal scope."]


def test_the_internal_api_needs_the_internal_scope(alice, alice_api):
    user = alice[0]
    assert alice_api.get("/internal/v1/queue").status_code == 403  # an ordinary key
    user.is_staff = True
    user.save()
    internal = client_for(make_key(alice_api, scopes=["internal"])["secret"])

    response = internal.get("/internal/v1/queue")

    assert response.status_code == 200
    assert set(response.json()) == {"jobs", "by_operation", "oldest_queued_seconds", "running_by_worker"}
    assert internal.get("/api/v1/jobs").status_code == 403  # internal only: no public read
    assert APIClient().get("/internal/v1/queue").status_code == 401


@pytest.mark.parametrize(
    "networks, address, allowed",
    [
        (["10.0.0.0/8"], "10.20.30.40", True),
        (["10.0.0.0/8"], "100.0.0.1", False),  # a string-prefix match would let 100.* through as "10"
        (["192.168.1.7"], "192.168.1.7", True),
        (["192.168.1.7"], "192.168.1.70", False),
        (["2001:db8::/32"], "2001:db8:1::5", True),
        (["2001:db8::/32"], "2001:db9::5", False),
        (["203.0.113.0/24"], "::ffff:203.0.113.9", True),  # IPv4-mapped IPv6 is matched as IPv4
        (["127.0.0.0/8", "::1/128"], "::1", True),
    ],
)
def test_allowed_networks_are_matched_as_networks(alice_api, networks, address, allowed):
    secret = make_key(alice_api, allowed_ips=networks)["secret"]

    response = client_for(secret, address).get("/api/v1/jobs")

    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert response.json()["error"]["message"] == "This API key may not be used from this network address."


def test_invalid_networks_are_refused(alice_api):
    response = alice_api.post("/api/v1/keys", {"name": "x", "allowed_ips": ["10.0.0.0/8", "ten"]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["allowed_ips"] == [
        "1: 'ten' is not an IPv4 or IPv6 address or CIDR network."
    ]


def test_revoke_stops_the_key_at_once(alice_api):
    created = make_key(alice_api)
    key = client_for(created["secret"])
    assert key.get("/api/v1/jobs").status_code == 200

    assert alice_api.delete(f"/api/v1/keys/{created['id']}").status_code == 204

    assert key.get("/api/v1/jobs").status_code == 401
    assert alice_api.get(f"/api/v1/keys/{created['id']}").json()["status"] == "revoked"
    assert alice_api.post(f"/api/v1/keys/{created['id']}/rotate").status_code == 409


def test_rotation_gives_a_new_secret_and_keeps_the_old_one_for_the_grace_period(alice_api, settings):
    settings.MEDIAHUB_KEY_ROTATION_GRACE_HOURS = 2
    created = make_key(alice_api)
    old = created["secret"]

    rotated = alice_api.post(f"/api/v1/keys/{created['id']}/rotate").json()

    new = rotated["secret"]
    assert new != old and rotated["id"] == created["id"]
    grace = timezone.datetime.fromisoformat(rotated["previous_valid_until"].replace("Z", "+00:00"))
    assert timedelta(hours=1.9) < grace - timezone.now() <= timedelta(hours=2)
    assert client_for(new).get("/api/v1/jobs").status_code == 200
    assert client_for(old).get("/api/v1/jobs").status_code == 200  # still in its grace period

    ApiKey.objects.filter(id=created["id"]).update(previous_valid_until=timezone.now() - timedelta(seconds=1))
    assert client_for(old).get("/api/v1/jobs").status_code == 401
    assert client_for(new).get("/api/v1/jobs").status_code == 200


def test_expires_at_in_the_past_is_refused_and_a_future_one_is_kept(alice_api):
    past = alice_api.post("/api/v1/keys", {"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, format="json")
    future = make_key(alice_api, expires_at=(timezone.now() + timedelta(days=3)).isoformat())

    assert past.status_code == 400 and "expires_at" in past.json()["error"]["fields"]
    assert future["expires_at"] and future["status"] == "active"


def test_key_changes_are_audited_with_who_and_where(alice, alice_api):
    created = make_key(alice_api, name="audited")
    alice_api.post(f"/api/v1/keys/{created['id']}/rotate")
    alice_api.delete(f"/api/v1/keys/{created['id']}")

    events = list(AuditEvent.objects.filter(target=created["id"]).order_by("created_at"))

    assert [event.action for event in events] == ["apikey.create", "apikey.rotate", "apikey.revoke"]
    assert all(event.actor == alice[0] and event.ip == "127.0.0.1" for event in events)
    assert all(event.api_key == alice[0].api_keys.get(name="tests") for event in events)  # the key that did it
    assert created["secret"] not in str([event.details for event in events])


def test_another_users_keys_are_invisible(alice_api, bob_api):
    created = make_key(alice_api)

    assert created["id"] not in bob_api.get("/api/v1/keys").content.decode()
    assert bob_api.delete(f"/api/v1/keys/{created['id']}").status_code == 404
    assert bob_api.post(f"/api/v1/keys/{created['id']}/rotate").status_code == 404
    assert client_for(created["secret"]).get("/api/v1/jobs").status_code == 200


@pytest.mark.parametrize(
    "scopes, method, path, required, allowed",
    [
        (["generate"], "post", "/api/v1/generations", "generate", True),
        (["read", "write"], "post", "/api/v1/generations", "generate", False),
        (["read"], "get", "/api/v1/generations", {"GET": "read", "POST": "generate"}, True),
        (["write"], "post", "/api/v1/generations", {"GET": "read", "POST": "generate"}, False),
        (["internal", "write"], "post", "/internal/v1/clips", None, True),
        (["write"], "post", "/internal/v1/clips", None, False),
    ],
)
def test_a_view_can_name_the_scope_it_needs(alice, scopes, method, path, required, allowed):
    """The hook generation and internal endpoints use: `required_scope` on the view, /internal/ by path."""
    from types import SimpleNamespace

    from rest_framework.test import APIRequestFactory

    from keys.permissions import HasScope

    request = getattr(APIRequestFactory(), method)(path)
    request.auth = ApiKey(owner=alice[0], scopes=scopes)
    view = SimpleNamespace(required_scope=required)

    assert HasScope().has_permission(request, view) is allowed
