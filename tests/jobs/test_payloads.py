"""A job and an asset as the API shows them: the written-out payloads (fast) give exactly what the JobOut and
AssetOut serializers (the OpenAPI schema's) give, field for field."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from jobs.models import Asset, Batch, Job
from jobs.selectors import get_job_for
from jobs.serializers import AssetOut, JobOut, asset_payload, job_payload


def as_json(data) -> dict:
    return json.loads(json.dumps(data))


@pytest.fixture
def highlights_job(alice) -> Job:
    """A finished highlights job in a batch: inputs, outputs (one of them an HLS folder) and a result that
    refers to its outputs, an error (from an earlier attempt), and every time field set."""
    owner, now = alice[0], timezone.now()
    source = Asset.objects.create(
        owner=owner, file="a/source.mp4", storage_name="source.mp4", name="talk.mp4", kind="video", size=10,
        duration=12.5, width=640, height=360, fps=25, video_codec="h264", audio_codec="aac",
        probe={"streams": [{"codec_type": "video"}]},
    )
    job = Job.objects.create(
        owner=owner, operation="highlights", params={"count": 1}, status=Job.Status.SUCCEEDED, progress=42,
        stage="cutting", eta_seconds=3, attempts=1, priority=5, webhook_url="https://example.com/hook",
        batch=Batch.objects.create(owner=owner), error={"code": "ffmpeg_failed", "message": "no", "detail": "x"},
        started_at=now - timedelta(seconds=5), finished_at=now,
    )
    job.input_links.create(asset=source, position=0)
    video = Asset.objects.create(
        owner=owner, file="a/clip.mp4", storage_name="clip.mp4", name="clip.mp4", kind="video", job=job,
        source="job", duration=4.0,
    )
    vtt = Asset.objects.create(
        owner=owner, file="a/clip.vtt", storage_name="clip.vtt", name="clip.vtt", kind="subtitle", job=job,
        source="job", created_at=now + timedelta(seconds=1),
    )
    Asset.objects.create(
        owner=owner, file="a/hls/master.m3u8", storage_name="hls", name="clip-hls", kind="stream", job=job,
        source="job", files=["master.m3u8", "seg-1.ts"], created_at=now + timedelta(seconds=2),
    )
    job.result = {"clips": [{"start": 1.0, "end": 5.0, "video": video.id, "captions": {"vtt": vtt.id}}]}
    job.save()
    return get_job_for(owner, job.id)


@pytest.mark.parametrize("with_request", [True, False])
def test_job_payload_is_what_jobout_gives(highlights_job, with_request, settings):
    settings.MEDIAHUB_PUBLIC_URL = "https://media.example.com"
    request = APIRequestFactory().get("/api/v1/jobs") if with_request else None

    payload = job_payload(highlights_job, request)

    assert payload == as_json(JobOut(highlights_job, context={"request": request}).data)
    assert payload["result"]["clips"][0]["video"]["kind"] == "video"  # outputs shown inside the result
    assert [output["kind"] for output in payload["outputs"]] == ["video", "subtitle", "stream"]


def test_asset_payload_is_what_assetout_gives(highlights_job):
    request = APIRequestFactory().get("/api/v1/assets")
    for asset in [*highlights_job.outputs.all(), Asset.objects.get(id=highlights_job.input_links.get().asset_id)]:
        assert asset_payload(asset, request) == as_json(AssetOut(asset, context={"request": request}).data)


def test_a_running_job_shows_no_outputs_while_they_are_stored(highlights_job):
    """Outputs are stored just before a job succeeds (and removed if it then does not)."""
    Job.objects.filter(id=highlights_job.id).update(status=Job.Status.RUNNING, stage="saving")
    job = get_job_for(highlights_job.owner, highlights_job.id)

    assert job_payload(job)["outputs"] == [] == as_json(JobOut(job).data)["outputs"]


def test_a_queued_job_payload_is_what_jobout_gives(alice):
    job = get_job_for(alice[0], Job.objects.create(owner=alice[0], operation="transcode", params={}).id)

    assert job_payload(job) == as_json(JobOut(job).data)


def test_a_submitted_job_is_answered_as_it_then_reads(alice_api, alice_clip):
    """The 202 answer is built without reading the new job's links back: it must still be the job as stored."""
    submitted = alice_api.post(
        "/api/v1/jobs", {"operation": "concat", "inputs": [alice_clip["id"], alice_clip["id"]]}, format="json"
    )

    assert submitted.status_code == 202
    assert submitted.json()["inputs"] == [alice_clip["id"], alice_clip["id"]]
    assert submitted.json() == alice_api.get(f"/api/v1/jobs/{submitted.json()['id']}").json()
