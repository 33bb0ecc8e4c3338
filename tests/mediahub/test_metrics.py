from prometheus_client.parser import text_string_to_metric_families

from jobs.models import WebhookDelivery


def _samples(response) -> dict:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_count_jobs_and_assets_in_prometheus_text(client, alice_api, upload, run_job, clip_path):
    asset = upload(alice_api, clip_path)
    run_job(alice_api, {"operation": "transcode", "input": asset["id"], "params": {"preset": "ultrafast"}})

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = _samples(response)
    assert samples[("mediahub_jobs", (("operation", "transcode"), ("status", "succeeded")))] == 1
    assert samples[("mediahub_jobs", (("operation", "transcode"), ("status", "failed")))] == 0
    assert samples[("mediahub_assets", (("kind", "video"),))] == 2  # the upload and the output
    assert samples[("mediahub_asset_bytes", (("kind", "video"),))] > 0
    assert samples[("mediahub_oldest_queued_job_age_seconds", ())] == 0
    assert samples[("mediahub_webhook_deliveries", (("status", "pending"),))] == 0


def test_metrics_count_webhook_deliveries_by_status(client, alice):
    for status in ("pending", "failed", "failed"):
        WebhookDelivery.objects.create(
            owner=alice[0], url="https://example.com/", event_id="evt_x", event_type="job.failed", status=status
        )

    samples = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))

    assert samples[("mediahub_webhook_deliveries", (("status", "pending"),))] == 1
    assert samples[("mediahub_webhook_deliveries", (("status", "failed"),))] == 2
    assert samples[("mediahub_webhook_deliveries", (("status", "succeeded"),))] == 0


def test_metrics_are_refused_outside_the_allowed_networks(client, settings, db):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    settings.MEDIAHUB_METRICS_ALLOWLIST = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200
