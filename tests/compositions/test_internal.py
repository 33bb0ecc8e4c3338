"""POST /internal/v1/process-clips: clips (assets or imported URLs) → normalize / loudness / thumbnail jobs in one
batch whose callback gets the signed batch.finished event; internal keys only; errors in the contract's shape."""

import functools
import hashlib
import hmac
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from jobs.models import Asset, Batch, Job
from jobs.services.webhooks import account_secret
from keys.services import apikey_create

PATH = "/internal/v1/process-clips"


def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
def staff(alice):
    user = alice[0]
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def internal_api(staff) -> APIClient:
    """A staff user's key holding the internal scope (and nothing else)."""
    _, raw = apikey_create(owner=staff, name="service", scopes=["internal"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def file_server(media_dir, receiver):
    """Serves the media fixtures over HTTP on 127.0.0.1 (the receiver fixture allows loopback)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(media_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def clip(alice_api, upload, clip_path) -> dict:
    return upload(alice_api, clip_path)


def test_clips_are_normalised_and_thumbnailed_and_the_callback_is_signed(
    staff, internal_api, clip, clip_path, file_server, receiver, django_capture_on_commit_callbacks
):
    body = {
        "clips": [
            {"asset": clip["id"], "operations": ["normalize", "thumbnail"], "timestamps": [0.5, "50%"]},
            {"clip_url": f"{file_server}/{clip_path.name}", "operations": ["normalize"]},
        ],
        "callback_url": receiver.url,
        "normalize": {"resolution": "360p", "fps": 15, "codec": "h264", "target_lufs": -16},
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = internal_api.post(PATH, body, format="json")

    assert response.status_code == 202, response.content
    batch = response.json()
    assert batch["id"].startswith("bat_") and batch["total"] == 5
    assert batch["webhook_url"] == receiver.url
    first, second = batch["clips"]
    assert (first["index"], first["asset"], set(first["jobs"])) == (
        0,
        clip["id"],
        {"normalize", "loudness", "thumbnail"},
    )
    imported = Asset.objects.get(id=second["asset"])
    assert (imported.owner, imported.source, imported.kind) == (staff, "url", "video")
    assert second["clip_url"] == body["clips"][1]["clip_url"]
    assert set(second["jobs"]) == {"normalize", "loudness"}

    jobs = {job.id: job for job in Job.objects.filter(batch_id=batch["id"])}
    assert all(job.status == "succeeded" for job in jobs.values()), [job.error for job in jobs.values()]
    for entry in (first, second):
        normalized = jobs[entry["jobs"]["normalize"]]
        assert (normalized.operation, normalized.ordered_inputs()[0].id) == ("transcode", entry["asset"])
        video = normalized.outputs.get()
        assert (video.width, video.height, video.video_codec, round(video.fps)) == (480, 360, "h264", 15)
        loudness = jobs[entry["jobs"]["loudness"]]
        assert loudness.operation == "audio" and loudness.params["target_lufs"] == -16
        assert loudness.outputs.get().kind == "audio"
    thumbnail = jobs[first["jobs"]["thumbnail"]]
    assert thumbnail.params["times"] == [0.5, "50%"]
    assert [asset.kind for asset in thumbnail.outputs.all()] == ["image", "image"]

    events = [json.loads(request.body) for request in receiver.requests]
    assert [event["type"] for event in events] == ["batch.finished"]
    assert (events[0]["data"]["id"], events[0]["data"]["status"]) == (batch["id"], "succeeded")
    secret = account_secret(staff).secret
    request = receiver.requests[0]
    assert verify(secret, request.headers["MediaHub-Signature"], request.body)
    assert not verify(secret, request.headers["MediaHub-Signature"], request.body.replace(b"succeeded", b"failed"))

    done = internal_api.get(f"{PATH}/{batch['id']}").json()
    assert (done["status"], len(done["jobs"])) == ("succeeded", 5)
    assert {job["id"] for job in done["jobs"]} == set(jobs)


def test_defaults_are_both_operations_and_loudness_is_only_asked_for(
    internal_api, clip, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = internal_api.post(
            PATH, {"clips": [{"asset": clip["id"]}], "callback_url": receiver.url}, format="json"
        )

    assert response.status_code == 202, response.content
    (entry,) = response.json()["clips"]
    assert set(entry["jobs"]) == {"normalize", "thumbnail"}
    normalize = Job.objects.get(id=entry["jobs"]["normalize"])
    assert normalize.params | {"resolution": "720p", "fps": 30.0, "video_codec": "h264"} == normalize.params
    assert "times" not in Job.objects.get(id=entry["jobs"]["thumbnail"]).params  # one frame from the middle


def test_the_same_idempotency_key_gives_the_first_batch_without_a_second_import(
    internal_api, clip_path, file_server, receiver, django_capture_on_commit_callbacks
):
    body = {"clips": [{"clip_url": f"{file_server}/{clip_path.name}"}], "callback_url": receiver.url}

    with django_capture_on_commit_callbacks(execute=False):
        first = internal_api.post(PATH, body, format="json", HTTP_IDEMPOTENCY_KEY="ingest-1")
        second = internal_api.post(PATH, body, format="json", HTTP_IDEMPOTENCY_KEY="ingest-1")

    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["clips"] == second.json()["clips"]
    assert (Batch.objects.count(), Asset.objects.filter(source="url").count(), Job.objects.count()) == (1, 1, 2)


def test_other_keys_sessions_and_anonymous_callers_are_refused(alice, alice_api, staff, clip, receiver):
    body = {"clips": [{"asset": clip["id"]}], "callback_url": receiver.url}
    session = APIClient()
    session.force_login(staff)

    assert alice_api.post(PATH, body, format="json").status_code == 403  # read/write/generate/admin, not internal
    assert session.post(PATH, body, format="json").status_code == 403
    assert APIClient().post(PATH, body, format="json").status_code == 401
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "clips, extra, fields",
    [
        ([{"asset": "{asset}", "clip_url": "https://example.com/a.mp4"}], {}, {"clips.0.asset"}),
        ([{}], {}, {"clips.0.asset"}),
        ([{"asset": "{asset}", "operations": ["explode"]}], {}, {"clips.0.operations.0"}),
        ([{"asset": "{asset}", "operations": []}], {}, {"clips.0.operations"}),
        ([{"asset": "{asset}", "operations": ["normalize"], "timestamps": [1]}], {}, {"clips.0.timestamps"}),
        ([{"asset": "{asset}", "timestamps": ["soon"]}], {}, {"clips.0.timestamps"}),
        ([{"asset": "{asset}"}, {"asset": "{asset}", "timestamps": [1, 30]}], {}, {"clips.1.timestamps.1"}),
        ([{"asset": "ast_missing"}], {}, {"clips.0.asset"}),
        (
            [{"asset": "{asset}"}],
            {"normalize": {"resolution": "8k", "fps": 0}},
            {"normalize.resolution", "normalize.fps"},
        ),
        ([{"asset": "{asset}"}], {"callback_url": None}, {"callback_url"}),
        ([], {}, {"clips"}),
    ],
)
def test_invalid_requests_answer_400_with_field_paths_and_start_nothing(
    internal_api, clip, receiver, clips, extra, fields
):
    clips = [{k: (clip["id"] if v == "{asset}" else v) for k, v in item.items()} for item in clips]
    body = {"clips": clips, "callback_url": receiver.url, **extra}
    body = {key: value for key, value in body.items() if value is not None}

    response = internal_api.post(PATH, body, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == fields
    assert not Job.objects.exists() and not Batch.objects.exists()


def test_a_private_callback_or_clip_url_is_refused(internal_api, clip, receiver):
    """Only loopback is allowed here (the receiver fixture's allowlist); 10.0.0.1 stays private."""
    private = internal_api.post(
        PATH, {"clips": [{"asset": clip["id"]}], "callback_url": "http://10.0.0.1/x"}, format="json"
    )
    clip_url = internal_api.post(
        PATH, {"clips": [{"clip_url": "http://10.0.0.1/a.mp4"}], "callback_url": receiver.url}, format="json"
    )

    assert private.status_code == 400
    assert set(private.json()["error"]["fields"]) == {"callback_url"}
    assert clip_url.status_code == 400
    assert clip_url.json()["error"]["code"] == "url_not_allowed"
    assert set(clip_url.json()["error"]["fields"]) == {"clips.0.clip_url"}
    assert not Job.objects.exists()


def test_an_unusable_import_is_deleted_again(internal_api, random_bytes_path, file_server, receiver):
    before = Asset.objects.count()
    body = {"clips": [{"clip_url": f"{file_server}/{random_bytes_path.name}"}], "callback_url": receiver.url}

    response = internal_api.post(PATH, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()["error"]["fields"]) == {"clips.0.clip_url"}
    assert Asset.objects.count() == before
    assert not Job.objects.exists()
