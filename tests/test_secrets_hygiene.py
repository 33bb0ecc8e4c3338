"""A full flow with DEBUG logging: no API key, provider secret or signing secret shows up in logs, error bodies,
list endpoints or admin pages."""

import logging

import pytest
from django.contrib.admin.utils import quote
from django.test import Client
from rest_framework.test import APIClient

from keys import provider_checks
from keys.provider_checks import CheckResult

PROVIDER_SECRET = "rk_live_SUPERSECRETprovider9876"


@pytest.fixture
def staff_browser(db):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("root", password="root-password")
    browser = Client()
    browser.force_login(staff)
    return browser


def test_no_secret_is_ever_logged_or_shown_again(
    alice,
    alice_api,
    alice_clip,
    run_job,
    receiver,
    staff_browser,
    caplog,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    caplog.set_level(logging.DEBUG)
    # the real runway adapter would ask Runway; the test stands in for it (restored afterwards)
    monkeypatch.setitem(
        provider_checks._CHECKS, "runway", lambda parts: CheckResult("invalid", "The provider said 401.")
    )
    key = alice_api.post("/api/v1/keys", {"name": "flow"}, format="json").json()
    user_key = APIClient()
    user_key.credentials(HTTP_AUTHORIZATION=f"Bearer {key['secret']}")
    endpoint = alice_api.post("/api/v1/webhooks", {"url": receiver.url}, format="json").json()
    credential = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": PROVIDER_SECRET}).json()
    alice_api.post(f"/api/v1/provider-keys/{credential['id']}/validate")
    job = run_job(user_key, {"operation": "transcode", "input": alice_clip["id"], "params": {"height": 96}})
    assert job["status"] == "succeeded"
    assert len(receiver.requests) == 1
    rotated = alice_api.post(f"/api/v1/keys/{key['id']}/rotate").json()
    account_secret = alice_api.get("/api/v1/webhooks/secret").json()["secret"]

    bad_requests = [
        APIClient(HTTP_AUTHORIZATION=f"Token {key['secret']}x").get("/api/v1/jobs"),
        APIClient(HTTP_AUTHORIZATION=f"Token {PROVIDER_SECRET}").get("/api/v1/jobs"),
        alice_api.post("/api/v1/provider-keys", {"provider": "kling", "secret": PROVIDER_SECRET}),
    ]
    later_pages = [
        alice_api.get("/api/v1/keys"),
        alice_api.get(f"/api/v1/keys/{key['id']}"),
        alice_api.get("/api/v1/provider-keys"),
        alice_api.get("/api/v1/webhooks"),
        alice_api.get(f"/api/v1/jobs/{job['id']}/deliveries"),
        staff_browser.get("/admin/keys/apikey/"),
        staff_browser.get(f"/admin/keys/apikey/{quote(key['id'])}/change/"),
        staff_browser.get("/admin/keys/providercredential/"),
        staff_browser.get(f"/admin/keys/providercredential/{quote(credential['id'])}/change/"),
        staff_browser.get("/admin/keys/auditevent/"),
        staff_browser.get("/admin/jobs/webhookendpoint/"),
        staff_browser.get(f"/admin/jobs/webhookendpoint/{quote(endpoint['id'])}/change/"),
        staff_browser.get("/admin/jobs/webhookdelivery/"),
    ]

    secrets = [key["secret"], rotated["secret"], PROVIDER_SECRET, endpoint["secret"], account_secret]
    assert all(response.status_code in (200, 400, 401) for response in bad_requests + later_pages)
    for secret in secrets:
        assert secret not in caplog.text, "a secret reached the logs"
        for response in bad_requests + later_pages:
            assert secret not in response.content.decode(), (secret[:10], response.request["PATH_INFO"])
