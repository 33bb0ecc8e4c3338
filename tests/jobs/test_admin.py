import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model

from jobs.models import Job, WebhookDelivery


@pytest.fixture
def staff_client(client, db):
    admin = get_user_model().objects.create_superuser("root", password="root-password")
    client.force_login(admin)
    return client


@pytest.fixture
def queued_job(alice_api, upload, clip_path, django_capture_on_commit_callbacks):
    asset = upload(alice_api, clip_path)
    # on_commit callbacks are captured but not run, so the job stays queued
    with django_capture_on_commit_callbacks(execute=False):
        response = alice_api.post("/api/v1/jobs", {"operation": "transcode", "input": asset["id"]}, format="json")
    return Job.objects.get(id=response.json()["id"])


def test_staff_see_jobs_and_assets_with_filters_and_search(staff_client, queued_job):
    page = staff_client.get("/admin/jobs/job/", {"status__exact": "queued", "q": "alice"})
    assert page.status_code == 200
    assert queued_job.id in page.content.decode()
    assert queued_job.id not in staff_client.get("/admin/jobs/job/", {"status__exact": "failed"}).content.decode()
    assets = staff_client.get("/admin/jobs/asset/", {"kind__exact": "video"})
    assert queued_job.input_links.get().asset_id in assets.content.decode()


def test_cancel_and_retry_actions_change_the_jobs(staff_client, queued_job, django_capture_on_commit_callbacks):
    staff_client.post("/admin/jobs/job/", {"action": "cancel_jobs", "_selected_action": [queued_job.id]})
    queued_job.refresh_from_db()
    assert queued_job.status == "cancelled"

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/admin/jobs/job/", {"action": "retry_jobs", "_selected_action": [queued_job.id]})
    queued_job.refresh_from_db()
    assert queued_job.status == "succeeded"


def test_the_api_key_admin_shows_the_prefix_but_never_the_hash(staff_client, alice):
    user, raw_key = alice
    key = user.api_keys.get()
    page = staff_client.get(f"/admin/keys/apikey/{quote(key.id)}/change/").content.decode()
    assert key.prefix in page
    assert key.secret_hash not in page and raw_key not in page


def test_webhook_admin_masks_the_secret_and_redelivers(staff_client, alice_api, settings, queued_job):
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    created = alice_api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}, format="json").json()
    endpoint_page = staff_client.get(f"/admin/jobs/webhookendpoint/{quote(created['id'])}/change/").content.decode()
    assert f"whsec_…{created['secret'][-4:]}" in endpoint_page
    assert created["secret"] not in endpoint_page
    delivery = WebhookDelivery.objects.create(
        owner=queued_job.owner,
        url="http://127.0.0.1:9/hook",
        event_id="evt_admin",
        event_type="job.failed",
        body="{}",
        status="failed",
        attempts=3,
    )

    staff_client.post("/admin/jobs/webhookdelivery/", {"action": "redeliver", "_selected_action": [delivery.id]})

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert (
        delivery.id in staff_client.get("/admin/jobs/webhookdelivery/", {"status__exact": "pending"}).content.decode()
    )


def test_batch_admin_lists_the_aggregate(staff_client, alice_api, queued_job, django_capture_on_commit_callbacks):
    asset_id = queued_job.input_links.get().asset_id
    with django_capture_on_commit_callbacks(execute=False):
        batch = alice_api.post(
            "/api/v1/batches", {"jobs": [{"operation": "transcode", "input": asset_id}] * 2}, format="json"
        ).json()

    page = staff_client.get("/admin/jobs/batch/").content.decode()

    assert batch["id"] in page
    assert "queued · 0% of 2" in page


def test_admin_actions_are_audited(staff_client, queued_job):
    from keys.models import AuditEvent

    staff_client.post("/admin/jobs/job/", {"action": "cancel_jobs", "_selected_action": [queued_job.id]})

    event = AuditEvent.objects.get(action="admin.job.cancel")
    assert (event.target, event.actor.username, event.ip) == (queued_job.id, "root", "127.0.0.1")
