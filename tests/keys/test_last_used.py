"""A key's last use (time and address) is written at most once a minute, not on every request."""

from datetime import timedelta

from keys.models import ApiKey


def uses(owner) -> list:
    return list(ApiKey.objects.filter(owner=owner).values_list("last_used_at", "last_used_ip"))


def test_a_key_records_its_use_at_most_once_a_minute_whatever_the_address(alice, alice_api):
    alice_api.get("/api/v1/jobs", REMOTE_ADDR="192.0.2.1")
    first = uses(alice[0])
    alice_api.get("/api/v1/jobs", REMOTE_ADDR="192.0.2.2")
    alice_api.get("/api/v1/jobs", REMOTE_ADDR="2001:db8::1")

    assert first[0][1] == "192.0.2.1"
    assert uses(alice[0]) == first  # no write per request, even as the address changes


def test_a_use_a_minute_later_is_recorded_with_its_address(alice, alice_api):
    alice_api.get("/api/v1/jobs", REMOTE_ADDR="192.0.2.1")
    ApiKey.objects.filter(owner=alice[0]).update(last_used_at=ApiKey.objects.get().last_used_at - timedelta(minutes=2))

    alice_api.get("/api/v1/jobs", REMOTE_ADDR="192.0.2.2")

    assert uses(alice[0])[0][1] == "192.0.2.2"
