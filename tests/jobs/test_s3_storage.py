"""Assets and job outputs on S3, through a real S3 HTTP endpoint (moto's server on loopback)."""

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.media import probe

BUCKET = "mediahub-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": s3_endpoint, "querystring_auth": True},
        },
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_upload_transcode_and_download_go_through_s3(s3, alice, alice_api, upload, run_job, clip_path, tmp_path):
    asset = upload(alice_api, clip_path)
    assert asset["kind"] == "video" and asset["duration"] == pytest.approx(2.0, abs=0.05)
    assert _keys(s3) == [f"assets/{alice[0].id}/{asset['id']}/file.mp4"]

    job = run_job(
        alice_api,
        {"operation": "transcode", "input": asset["id"], "params": {"height": 120, "preset": "ultrafast"}},
    )
    assert job["status"] == "succeeded", job["error"]
    [output] = job["outputs"]
    assert f"assets/{alice[0].id}/{output['id']}/file.mp4" in _keys(s3)

    # Content is a redirect to a signed, expiring URL on the S3 endpoint, which serves the bytes.
    response = alice_api.get(f"/api/v1/assets/{output['id']}/content")
    assert response.status_code == 302
    assert "Signature=" in response["Location"] or "X-Amz-Signature=" in response["Location"]
    downloaded = tmp_path / "out.mp4"
    downloaded.write_bytes(httpx.get(response["Location"]).content)
    video = next(s for s in probe(downloaded)["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (160, 120)


def test_deleting_an_asset_removes_its_object(
    s3, alice, alice_api, upload, clip_path, django_capture_on_commit_callbacks
):
    asset = upload(alice_api, clip_path)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/assets/{asset['id']}").status_code == 204
    assert _keys(s3) == []
