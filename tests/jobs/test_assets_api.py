"""Assets API: upload and probe, listing, detail, content with ranges, delete."""

import hashlib
import json
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Asset
from tests.media import ffmpeg

CONTRACT_ASSET_FIELDS = {
    "id",
    "kind",
    "name",
    "size",
    "duration",
    "width",
    "height",
    "fps",
    "video_codec",
    "audio_codec",
    "probe",
    "created_at",
    "content_url",
}


@pytest.fixture(scope="session")
def png_path(media_dir) -> Path:
    """A single 64×48 PNG frame."""
    path = media_dir / "still.png"
    if not path.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1", "-frames:v", "1", str(path))
    return path


def multipart_body(filename: str, content: bytes) -> tuple[bytes, str]:
    """A hand-built multipart body, so the file name reaches the server exactly as given (the test client would
    strip folders itself)."""
    boundary = "mediahub-test-boundary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def content_bytes(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- upload and probe ------------------------------------------------------------------------------------


def test_upload_video_stores_ffprobe_metadata(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)

    assert asset["id"].startswith("ast_")
    assert asset["kind"] == "video"
    assert asset["name"] == "clip.mp4"
    assert asset["size"] == clip_path.stat().st_size
    assert asset["duration"] == pytest.approx(2.0, abs=0.1)
    assert (asset["width"], asset["height"]) == (320, 240)
    assert asset["fps"] == pytest.approx(25.0)
    assert asset["video_codec"] == "h264"
    assert asset["audio_codec"] == "aac"
    codec_types = {stream["codec_type"] for stream in asset["probe"]["streams"]}
    assert codec_types == {"video", "audio"}
    assert float(asset["probe"]["format"]["duration"]) == pytest.approx(2.0, abs=0.1)


def test_probe_does_not_reveal_server_file_paths(alice_api, upload, clip_path, settings):
    asset = upload(alice_api, clip_path)

    probe_text = json.dumps(asset["probe"])
    for server_dir in (tempfile.gettempdir(), str(settings.MEDIA_ROOT), str(settings.BASE_DIR)):
        assert server_dir not in probe_text, asset["probe"]["format"]


def test_upload_video_without_audio_has_no_audio_codec(alice_api, upload, silent_clip_path):
    asset = upload(alice_api, silent_clip_path)

    assert asset["kind"] == "video"
    assert asset["video_codec"] == "h264"
    assert asset["audio_codec"] == ""


def test_upload_audio_file_is_kind_audio(alice_api, upload, tone_path):
    asset = upload(alice_api, tone_path)

    assert asset["kind"] == "audio"
    assert asset["audio_codec"] == "mp3"
    assert asset["video_codec"] == ""
    assert asset["width"] is None and asset["height"] is None
    assert asset["duration"] == pytest.approx(2.0, abs=0.15)


def test_upload_png_is_kind_image_with_its_size_and_no_duration(alice_api, upload, png_path):
    asset = upload(alice_api, png_path)

    assert asset["kind"] == "image"
    assert asset["video_codec"] == "png"
    assert (asset["width"], asset["height"]) == (64, 48)
    assert asset["duration"] is None


def test_random_bytes_are_accepted_as_data_and_cannot_be_transcoded(alice_api, upload, random_bytes_path):
    asset = upload(alice_api, random_bytes_path)
    assert asset["kind"] == "data"
    assert asset["size"] == random_bytes_path.stat().st_size
    assert asset["duration"] is None and asset["video_codec"] == ""

    response = alice_api.post(
        "/api/v1/jobs", {"operation": "transcode", "input": asset["id"], "params": {}}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert "inputs.0" in error["fields"]
    assert asset["id"] in error["fields"]["inputs.0"][0]
    assert alice_api.get("/api/v1/jobs").json()["results"] == []


def test_empty_file_is_rejected_with_400(alice_api):
    upload = SimpleUploadedFile("empty.mp4", b"", content_type="video/mp4")

    response = alice_api.post("/api/v1/assets", {"file": upload}, format="multipart")

    error = assert_error(response, 400, "validation_error")
    assert "file" in error["fields"]
    assert not Asset.objects.exists()


def test_upload_without_file_field_is_rejected_with_400(alice_api):
    response = alice_api.post("/api/v1/assets", {"other": "x"}, format="multipart")

    error = assert_error(response, 400, "validation_error")
    assert "file" in error["fields"]


@pytest.mark.parametrize("filename", ["../../etc/x.mp4", "..\\..\\etc\\x.mp4", "/etc/x.mp4"])
def test_path_traversal_name_is_shown_without_folders_and_stored_under_our_key(
    alice, alice_api, clip_path, settings, filename
):
    body, content_type = multipart_body(filename, clip_path.read_bytes())

    response = alice_api.post("/api/v1/assets", body, content_type=content_type)

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["name"] == "x.mp4"
    asset = Asset.objects.get(id=data["id"])
    assert asset.file.name == f"assets/{alice[0].id}/{asset.id}/file.mp4"
    assert "etc" not in asset.file.name and ".." not in asset.file.name
    stored = Path(asset.file.path).resolve()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert stored.read_bytes() == clip_path.read_bytes()


def test_upload_over_the_limit_is_rejected_by_content_length_with_413(alice_api, clip_path, settings):
    settings.MEDIAHUB_MAX_UPLOAD_BYTES = 1024
    payload = SimpleUploadedFile("big.mp4", b"\0" * (200 * 1024))

    response = alice_api.post("/api/v1/assets", {"file": payload}, format="multipart")

    assert_error(response, 413)
    assert not Asset.objects.exists()


def test_upload_over_the_limit_is_stopped_while_streaming_with_413(alice_api, clip_path, settings):
    # Just under the file's size: the Content-Length pre-check lets it through, the upload handler stops it.
    settings.MEDIAHUB_MAX_UPLOAD_BYTES = clip_path.stat().st_size - 10
    with open(clip_path, "rb") as fh:
        response = alice_api.post("/api/v1/assets", {"file": fh}, format="multipart")

    assert_error(response, 413)
    assert not Asset.objects.exists()
    media_root = Path(settings.MEDIA_ROOT)
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


def test_upload_at_the_limit_is_accepted(alice_api, upload, clip_path, settings):
    settings.MEDIAHUB_MAX_UPLOAD_BYTES = clip_path.stat().st_size

    assert upload(alice_api, clip_path)["size"] == clip_path.stat().st_size


# --- list and detail -------------------------------------------------------------------------------------


def test_list_is_paginated_newest_first_with_limit(alice_api, upload, random_bytes_path, tone_path):
    ids = [upload(alice_api, path)["id"] for path in (random_bytes_path, tone_path, random_bytes_path)]

    first = alice_api.get("/api/v1/assets?limit=2")

    assert first.status_code == 200
    page = first.json()
    assert set(page) >= {"results", "next", "previous"}
    assert [a["id"] for a in page["results"]] == [ids[2], ids[1]]
    assert page["previous"] is None
    assert page["next"]

    second = alice_api.get(page["next"]).json()
    assert [a["id"] for a in second["results"]] == [ids[0]]
    assert second["next"] is None
    assert second["previous"]


def test_list_filters_by_kind(alice_api, upload, random_bytes_path, tone_path):
    upload(alice_api, random_bytes_path)
    audio = upload(alice_api, tone_path)

    response = alice_api.get("/api/v1/assets?kind=audio")

    assert [a["id"] for a in response.json()["results"]] == [audio["id"]]


def test_detail_has_the_contract_fields(alice_api, upload, clip_path):
    created = upload(alice_api, clip_path)

    response = alice_api.get(f"/api/v1/assets/{created['id']}")

    assert response.status_code == 200
    asset = response.json()
    assert set(asset) >= CONTRACT_ASSET_FIELDS
    assert asset == created
    assert asset["content_url"] == f"http://testserver/api/v1/assets/{created['id']}/content"
    assert asset["created_at"].endswith("Z")
    datetime.fromisoformat(asset["created_at"])


def test_unknown_asset_is_404_in_error_shape(alice_api):
    assert_error(alice_api.get("/api/v1/assets/ast_doesnotexist"), 404, "not_found")
    assert_error(alice_api.get("/api/v1/assets/ast_doesnotexist/content"), 404, "not_found")
    assert_error(alice_api.delete("/api/v1/assets/ast_doesnotexist"), 404, "not_found")


# --- content -------------------------------------------------------------------------------------------------


def test_content_returns_the_uploaded_bytes(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)

    response = alice_api.get(f"/api/v1/assets/{asset['id']}/content")

    assert response.status_code == 200
    assert content_bytes(response) == clip_path.read_bytes()
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(clip_path.stat().st_size)
    assert response["Accept-Ranges"] == "bytes"
    assert "clip.mp4" in response["Content-Disposition"]


@pytest.mark.parametrize(
    "filename, body",
    [
        ("page.html", b"<html><body><script>alert(document.cookie)</script></body></html>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'),
    ],
    ids=["html", "svg"],
)
def test_uploaded_active_content_is_not_rendered_inline_on_our_origin(alice_api, filename, body):
    # The content URL shares the dashboard's origin and session: a browser must not run an uploaded page there.
    created = alice_api.post("/api/v1/assets", {"file": SimpleUploadedFile(filename, body)}, format="multipart")
    assert created.status_code == 201, created.content

    response = alice_api.get(f"/api/v1/assets/{created.json()['id']}/content")

    assert response.status_code == 200
    assert content_bytes(response) == body
    downloaded = response["Content-Disposition"].startswith("attachment")
    sandboxed = "sandbox" in response.get("Content-Security-Policy", "")
    assert downloaded or sandboxed, (response["Content-Type"], response["Content-Disposition"])


def test_range_request_for_the_first_100_bytes_gives_206(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)
    data, size = clip_path.read_bytes(), clip_path.stat().st_size

    response = alice_api.get(f"/api/v1/assets/{asset['id']}/content", HTTP_RANGE="bytes=0-99")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-99/{size}"
    assert response["Content-Length"] == "100"
    assert content_bytes(response) == data[:100]


def test_suffix_range_gives_the_last_bytes(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)
    data, size = clip_path.read_bytes(), clip_path.stat().st_size

    response = alice_api.get(f"/api/v1/assets/{asset['id']}/content", HTTP_RANGE="bytes=-10")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}"
    assert content_bytes(response) == data[-10:]


def test_open_ended_range_gives_the_rest_of_the_file(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)
    data, size = clip_path.read_bytes(), clip_path.stat().st_size

    response = alice_api.get(f"/api/v1/assets/{asset['id']}/content", HTTP_RANGE="bytes=100-")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-{size - 1}/{size}"
    assert content_bytes(response) == data[100:]


def test_unsatisfiable_range_gives_416_with_the_size(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)
    size = clip_path.stat().st_size

    response = alice_api.get(f"/api/v1/assets/{asset['id']}/content", HTTP_RANGE=f"bytes={size}-{size + 10}")

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"


# --- delete ---------------------------------------------------------------------------------------------------


def test_delete_gives_204_then_404_and_removes_the_file(
    alice_api, upload, clip_path, django_capture_on_commit_callbacks
):
    asset = upload(alice_api, clip_path)
    stored = Path(Asset.objects.get(id=asset["id"]).file.path)
    assert stored.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete(f"/api/v1/assets/{asset['id']}")

    assert response.status_code == 204
    assert not stored.exists()
    assert_error(alice_api.get(f"/api/v1/assets/{asset['id']}"), 404, "not_found")
    assert_error(alice_api.get(f"/api/v1/assets/{asset['id']}/content"), 404, "not_found")
    assert_error(alice_api.delete(f"/api/v1/assets/{asset['id']}"), 404, "not_found")


def test_deleting_an_asset_a_queued_job_uses_gives_409_until_the_job_ends(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)
    # Without capturing on-commit callbacks the job is never enqueued, so it stays queued.
    job = alice_api.post("/api/v1/jobs", {"operation": "transcode", "input": asset["id"]}, format="json").json()
    assert job["status"] == "queued"

    error = assert_error(alice_api.delete(f"/api/v1/assets/{asset['id']}"), 409)
    assert job["id"] in error["message"]
    assert alice_api.get(f"/api/v1/assets/{asset['id']}").status_code == 200

    assert alice_api.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 200
    assert alice_api.delete(f"/api/v1/assets/{asset['id']}").status_code == 204
    # The finished job's history stays readable without its input.
    assert alice_api.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "cancelled"


def _post_file(client, path, key):
    with open(path, "rb") as fh:
        return client.post("/api/v1/assets", {"file": fh}, format="multipart", HTTP_IDEMPOTENCY_KEY=key)


def test_same_idempotency_key_and_file_return_the_first_asset(alice_api, clip_path):
    first = _post_file(alice_api, clip_path, "upload-1")
    again = _post_file(alice_api, clip_path, "upload-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Asset.objects.count() == 1


def test_same_idempotency_key_with_another_file_is_409(alice_api, clip_path, tone_path):
    assert _post_file(alice_api, clip_path, "upload-2").status_code == 201
    response = _post_file(alice_api, tone_path, "upload-2")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Asset.objects.count() == 1


def test_idempotency_keys_of_one_user_do_not_touch_another(alice_api, bob_api, clip_path):
    mine = _post_file(alice_api, clip_path, "shared-key").json()
    theirs = _post_file(bob_api, clip_path, "shared-key")
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine["id"]


@pytest.mark.django_db(transaction=True)
async def test_downloads_stream_asynchronously_under_asgi(alice, clip_path):
    """Under daphne the bytes come from an async iterator, so the server never buffers a whole file."""
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    from jobs.services.assets import asset_upload

    copy = clip_path.parent / "async-copy.mp4"
    copy.write_bytes(clip_path.read_bytes())
    asset, _ = await sync_to_async(asset_upload)(owner=alice[0], path=copy, name="clip.mp4")
    response = await AsyncClient().get(
        f"/api/v1/assets/{asset.id}/content", headers={"Authorization": f"Token {alice[1]}"}
    )

    assert response.status_code == 200
    assert response.is_async
    body = b"".join([chunk async for chunk in response.streaming_content])
    assert body == clip_path.read_bytes()


def test_an_upload_is_hashed_as_it_arrives_not_read_again(alice_api, upload, clip_path, monkeypatch):
    def read_again(path):
        raise AssertionError(f"{path} was read again to hash it")

    monkeypatch.setattr("jobs.services.assets._sha256", read_again)

    asset = upload(alice_api, clip_path)

    assert Asset.objects.get(id=asset["id"]).sha256 == hashlib.sha256(clip_path.read_bytes()).hexdigest()
