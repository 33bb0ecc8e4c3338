import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import Job, WebhookDelivery


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


# --- job durations ------------------------------------------------------------------------------------------------


def _finished_job(owner, operation: str, status: str, seconds: float) -> Job:
    finished = timezone.now()
    return Job.objects.create(
        owner=owner,
        operation=operation,
        status=status,
        started_at=finished - timedelta(seconds=seconds),
        finished_at=finished,
    )


def test_job_durations_are_a_histogram_per_operation_and_status(client, alice):
    for seconds in (3, 45, 45.5):
        _finished_job(alice[0], "transcode", "succeeded", seconds)
    _finished_job(alice[0], "transcode", "failed", 700)
    Job.objects.create(owner=alice[0], operation="transcode", status="running", started_at=timezone.now())
    Job.objects.create(owner=alice[0], operation="transcode", status="cancelled", finished_at=timezone.now())

    samples = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))

    succeeded = (("operation", "transcode"), ("status", "succeeded"))

    def bucket(labels, le):
        return samples[("mediahub_job_duration_seconds_bucket", tuple(sorted((*labels, ("le", le)))))]

    assert [bucket(succeeded, le) for le in ("1.0", "5.0", "10.0", "30.0", "60.0", "+Inf")] == [0, 1, 1, 1, 3, 3]
    assert samples[("mediahub_job_duration_seconds_count", succeeded)] == 3
    assert samples[("mediahub_job_duration_seconds_sum", succeeded)] == pytest.approx(93.5, abs=0.01)
    failed = (("operation", "transcode"), ("status", "failed"))
    assert [bucket(failed, le) for le in ("600.0", "1800.0", "+Inf")] == [0, 1, 1]
    # A running job has no duration yet, and a job cancelled while queued never started.
    assert ("mediahub_job_duration_seconds_count", (("operation", "transcode"), ("status", "cancelled"))) not in samples


def test_a_job_run_by_a_worker_shows_in_the_duration_histogram(client, alice_api, upload, run_job, clip_path):
    asset = upload(alice_api, clip_path)
    job = run_job(alice_api, {"operation": "thumbnail", "input": asset["id"], "params": {"count": 1, "width": 64}})
    assert job["status"] == "succeeded", job["error"]

    samples = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))

    labels = (("operation", "thumbnail"), ("status", "succeeded"))
    assert samples[("mediahub_job_duration_seconds_count", labels)] == 1
    assert samples[("mediahub_job_duration_seconds_sum", labels)] > 0


# --- workers ------------------------------------------------------------------------------------------------------


def test_workers_alive_come_from_the_clusters_stats(client, db, running_clusters):
    running_clusters(2, 1)

    samples = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))

    assert samples[("mediahub_worker_clusters", ())] == 2
    assert samples[("mediahub_workers", ())] == 3


def test_no_worker_is_zero_workers(client, db):
    samples = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))

    assert samples[("mediahub_worker_clusters", ())] == 0
    assert samples[("mediahub_workers", ())] == 0


# --- request latency ----------------------------------------------------------------------------------------------


def _latency_count(samples: dict, route: str, method: str = "GET", status: str = "2xx") -> float:
    labels = (("method", method), ("route", route), ("status", status))
    return samples.get(("mediahub_http_request_duration_seconds_count", labels), 0)


def test_request_latency_is_labelled_by_url_pattern_method_and_status_class(client, alice_api, alice):
    job = Job.objects.create(owner=alice[0], operation="transcode")
    route = "api/v1/jobs/<str:job_id>"
    before = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))

    assert alice_api.get(f"/api/v1/jobs/{job.id}").status_code == 200
    assert alice_api.get("/api/v1/jobs/job_missing").status_code == 404
    assert alice_api.get("/no/such/raw/path").status_code == 404
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    after = _samples(response)
    assert _latency_count(after, route) - _latency_count(before, route) == 1
    assert _latency_count(after, route, status="4xx") - _latency_count(before, route, status="4xx") == 1
    assert _latency_count(after, "<unmatched>", status="4xx") - _latency_count(before, "<unmatched>", status="4xx") == 1
    text = response.content.decode()
    assert job.id not in text and "job_missing" not in text and "/no/such/raw/path" not in text
    labels = (("le", "+Inf"), ("method", "GET"), ("route", route), ("status", "2xx"))
    assert after[("mediahub_http_request_duration_seconds_bucket", labels)] == _latency_count(after, route)


def test_latency_of_several_web_processes_is_summed_in_multiprocess_mode(client, db, settings, tmp_path):
    """Two processes record a request each into one PROMETHEUS_MULTIPROC_DIR; /metrics reports both."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    record = (
        "from mediahub.request_metrics import observe_request; "
        "observe_request(route='api/v1/assets', method='POST', status=201, seconds=0.3)"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], env=env, check=True, timeout=60)
    settings.PROMETHEUS_MULTIPROC_DIR = str(directory)

    samples = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))

    assert _latency_count(samples, "api/v1/assets", method="POST") == 2
    labels = (("le", "0.5"), ("method", "POST"), ("route", "api/v1/assets"), ("status", "2xx"))
    assert samples[("mediahub_http_request_duration_seconds_bucket", labels)] == 2
    assert samples[("mediahub_jobs", (("operation", "transcode"), ("status", "queued")))] == 0  # still there


# --- the token ----------------------------------------------------------------------------------------------------


def test_with_a_token_metrics_need_it_from_any_address(client, db, settings):
    settings.MEDIAHUB_METRICS_TOKEN = "s3cret-metrics-token"

    missing = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    wrong = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer s3cret-metrics-tokem")
    other_scheme = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Token s3cret-metrics-token")
    right = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")

    for response in (missing, wrong, other_scheme):
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"mediahub_jobs" not in response.content
    assert right.status_code == 200
    assert ("mediahub_workers", ()) in _samples(right)
