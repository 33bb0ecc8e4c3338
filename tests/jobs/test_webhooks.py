"""Webhooks against a real HTTP receiver on 127.0.0.1: signed bodies, retries with backoff, no double delivery."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import WebhookDelivery, WebhookEndpoint, WebhookSecret
from jobs.services.webhooks import deliveries_send_due, delivery_send, retry_delay


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, as docs/api.md shows it."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - timestamp) <= tolerance


def transcode_body(asset_id: str, **extra) -> dict:
    return {"operation": "transcode", "input": asset_id, "params": {"preset": "ultrafast", "height": 120}, **extra}


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_job_webhook_url_gets_one_signed_event(alice_api, alice_clip, run_job, receiver, settings):
    settings.MEDIAHUB_PUBLIC_URL = "https://media.example.com/"
    job = run_job(alice_api, transcode_body(alice_clip["id"], webhook_url=receiver.url))

    assert job["status"] == "succeeded"
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    event = json.loads(request.body)
    assert set(event) == {"id", "type", "created", "data"}
    assert event["id"].startswith("evt_")
    assert event["type"] == "job.succeeded"
    assert abs(event["created"] - time.time()) < 60
    assert event["data"]["id"] == job["id"]
    assert event["data"]["status"] == "succeeded"
    output = event["data"]["outputs"][0]
    assert output["id"] == job["outputs"][0]["id"]
    assert output["content_url"] == f"https://media.example.com/api/v1/assets/{output['id']}/content"
    secret = alice_api.get("/api/v1/webhooks/secret").json()["secret"]
    assert verify(secret, request.headers["MediaHub-Signature"], request.body)
    assert not verify(secret, request.headers["MediaHub-Signature"], request.body.replace(b"succeeded", b"failed"))
    assert request.headers["Content-Type"] == "application/json"

    deliveries = alice_api.get(f"/api/v1/jobs/{job['id']}/deliveries").json()["results"]
    assert len(deliveries) == 1
    assert deliveries[0]["status"] == "succeeded"
    assert deliveries[0]["event_id"] == event["id"]
    assert deliveries[0]["log"][0]["status"] == 200
    assert deliveries[0]["log"][0]["latency_ms"] >= 0
    assert deliveries[0]["log"][0]["response"] == "ok"


def test_endpoint_secret_is_shown_once_and_stored_encrypted(alice_api, receiver):
    created = alice_api.post("/api/v1/webhooks", {"url": receiver.url, "events": ["job.failed"]}, format="json")

    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    assert created.json()["secret_hint"] == secret[-4:]
    listed = alice_api.get("/api/v1/webhooks").json()["results"][0]
    assert listed["secret"] is None
    assert alice_api.get(f"/api/v1/webhooks/{listed['id']}").json()["secret"] is None
    stored = WebhookEndpoint.objects.get(id=listed["id"])
    assert secret not in stored.secret_encrypted
    assert stored.secret == secret


def test_endpoint_receives_only_the_events_it_subscribed_to(alice_api, alice_clip, run_job, receiver, capture):
    created = alice_api.post("/api/v1/webhooks", {"url": receiver.url, "events": ["job.cancelled"]}, format="json")
    secret = created.json()["secret"]
    run_job(alice_api, transcode_body(alice_clip["id"]))  # succeeds: not subscribed
    assert receiver.requests == []

    with capture(execute=False):
        queued = alice_api.post("/api/v1/jobs", transcode_body(alice_clip["id"]), format="json").json()
    with capture(execute=True):
        assert alice_api.post(f"/api/v1/jobs/{queued['id']}/cancel").status_code == 200

    assert len(receiver.requests) == 1
    event = json.loads(receiver.requests[0].body)
    assert (event["type"], event["data"]["id"], event["data"]["status"]) == ("job.cancelled", queued["id"], "cancelled")
    assert verify(secret, receiver.requests[0].headers["MediaHub-Signature"], receiver.requests[0].body)
    endpoint_id = created.json()["id"]
    assert [d["event_id"] for d in alice_api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").json()["results"]] == [
        event["id"]
    ]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_a_500_is_retried_later_with_the_same_event_and_a_200_ends_it(alice_api, alice_clip, run_job, receiver):
    receiver.replies = [(500, {}), (200, {})]
    job = run_job(alice_api, transcode_body(alice_clip["id"], webhook_url=receiver.url))
    delivery = WebhookDelivery.objects.get(job_id=job["id"])

    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 500)
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 20 < wait <= 36  # the first retry delay, 30 s ± 20 % jitter
    assert deliveries_send_due() == 0  # not due yet
    assert len(receiver.requests) == 1

    make_due(delivery)
    assert deliveries_send_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 2, 200)
    assert [entry["status"] for entry in delivery.log] == [500, 200]
    first, second = receiver.requests
    assert first.body == second.body  # the same event id and bytes on every attempt
    assert json.loads(second.body)["id"] == delivery.event_id

    make_due(delivery)
    assert deliveries_send_due() == 0
    assert delivery_send(delivery_id=delivery.id) is None
    assert len(receiver.requests) == 2  # nothing is delivered twice after a 200


def test_retry_after_is_honoured(alice_api, alice_clip, run_job, receiver):
    receiver.replies = [(429, {"Retry-After": "600"})]
    job = run_job(alice_api, transcode_body(alice_clip["id"], webhook_url=receiver.url))
    delivery = WebhookDelivery.objects.get(job_id=job["id"])

    assert delivery.status == "pending"
    assert (delivery.next_attempt_at - timezone.now()).total_seconds() > 590


def test_a_client_error_is_not_retried(alice_api, alice_clip, run_job, receiver):
    receiver.replies = [(410, {})]
    job = run_job(alice_api, transcode_body(alice_clip["id"], webhook_url=receiver.url))
    delivery = WebhookDelivery.objects.get(job_id=job["id"])

    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)


def test_an_unreachable_receiver_is_retried_until_the_schedule_ends(alice_api, alice_clip, run_job, receiver, settings):
    url = receiver.url
    receiver.stop()  # connection refused from now on
    job = run_job(alice_api, transcode_body(alice_clip["id"], webhook_url=url))
    delivery = WebhookDelivery.objects.get(job_id=job["id"])
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "ConnectError" in delivery.log[0]["error"]

    for _ in settings.MEDIAHUB_WEBHOOK_RETRY_DELAYS:
        make_due(delivery)
        assert deliveries_send_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", len(settings.MEDIAHUB_WEBHOOK_RETRY_DELAYS) + 1)


def test_retry_schedule_spans_about_a_day_with_jitter():
    delays = [retry_delay(attempt) for attempt in range(1, 9)]
    assert retry_delay(9) is None
    assert 0.8 * 86400 < sum(delays) < 1.2 * 86400
    assert all(later > earlier for earlier, later in zip(delays, delays[1:], strict=False))
    assert retry_delay(1, retry_after=10**9) == 12 * 3600  # a huge Retry-After is capped


def test_redeliver_sends_the_same_event_again(alice_api, alice_clip, run_job, receiver, capture):
    job = run_job(alice_api, transcode_body(alice_clip["id"], webhook_url=receiver.url))
    delivery = alice_api.get(f"/api/v1/jobs/{job['id']}/deliveries").json()["results"][0]

    with capture(execute=True):
        response = alice_api.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver")

    assert response.status_code == 202, response.content
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert WebhookDelivery.objects.get(id=delivery["id"]).status == "succeeded"


def test_rotating_the_account_secret_signs_later_deliveries_with_the_new_one(alice_api, alice_clip, run_job, receiver):
    old = alice_api.get("/api/v1/webhooks/secret").json()["secret"]
    new = alice_api.post("/api/v1/webhooks/secret/rotate").json()["secret"]
    assert new != old and new.startswith("whsec_")
    assert old not in WebhookSecret.objects.get().secret_encrypted

    run_job(alice_api, transcode_body(alice_clip["id"], webhook_url=receiver.url))

    header = receiver.requests[0].headers["MediaHub-Signature"]
    assert verify(new, header, receiver.requests[0].body)
    assert not verify(old, header, receiver.requests[0].body)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",
        "ftp://example.com/hook",
    ],
)
def test_webhook_urls_pass_the_ssrf_check(alice_api, alice_clip, settings, url):
    settings.MEDIAHUB_SSRF_ALLOWLIST = []

    job = alice_api.post("/api/v1/jobs", transcode_body(alice_clip["id"], webhook_url=url), format="json")
    endpoint = alice_api.post("/api/v1/webhooks", {"url": url}, format="json")

    assert job.status_code == 400
    assert "webhook_url" in job.json()["error"]["fields"]
    assert endpoint.status_code == 400
    assert "url" in endpoint.json()["error"]["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_a_receiver_that_turned_private_is_refused_at_delivery(alice_api, alice_clip, run_job, receiver, settings):
    job = run_job(alice_api, transcode_body(alice_clip["id"], webhook_url=receiver.url))
    delivery = WebhookDelivery.objects.get(job_id=job["id"])
    settings.MEDIAHUB_SSRF_ALLOWLIST = []
    WebhookDelivery.objects.filter(id=delivery.id).update(status="pending")
    make_due(delivery)

    deliveries_send_due()

    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert "not allowed" in delivery.log[-1]["error"]
    assert len(receiver.requests) == 1


def test_unknown_event_types_are_refused(alice_api, receiver):
    response = alice_api.post("/api/v1/webhooks", {"url": receiver.url, "events": ["job.exploded"]}, format="json")

    assert response.status_code == 400
    assert "events" in response.json()["error"]["fields"]


def test_deleting_an_endpoint_stops_its_deliveries(alice_api, alice_clip, run_job, receiver):
    endpoint = alice_api.post("/api/v1/webhooks", {"url": receiver.url}, format="json").json()
    assert alice_api.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 204

    run_job(alice_api, transcode_body(alice_clip["id"]))

    assert receiver.requests == []
    assert alice_api.get(f"/api/v1/webhooks/{endpoint['id']}").status_code == 404


def test_the_job_page_shows_deliveries_and_redelivers(alice, bob, alice_api, alice_clip, run_job, receiver, capture):
    receiver.replies = [(503, {}), (200, {})]
    job = run_job(alice_api, transcode_body(alice_clip["id"], webhook_url=receiver.url))
    delivery = WebhookDelivery.objects.get(job_id=job["id"])
    page = Client()
    page.force_login(alice[0])

    html = page.get(f"/jobs/{job['id']}/").content.decode()
    assert "job.succeeded" in html and delivery.event_id in html and "503" in html

    intruder = Client()
    intruder.force_login(bob[0])
    assert intruder.post(f"/jobs/{job['id']}/deliveries/{delivery.id}/redeliver").status_code == 404
    assert len(receiver.requests) == 1

    with capture(execute=True):
        response = page.post(f"/jobs/{job['id']}/deliveries/{delivery.id}/redeliver")
    assert response.status_code == 302
    assert len(receiver.requests) == 2
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
