"""A web process SIGKILLed in the middle of an upload: the client gets an error, and no half asset is listed by
the API or left in the bucket."""

import os
import uuid

import boto3
import httpx
import pytest

from scripts.topology import MOTO_ENV, alive, wait_until

pytestmark = pytest.mark.chaos

BODY_BYTES = 16 * 2**20
CHUNK = 256 * 2**10
KILL_AFTER = BODY_BYTES // 3


def _bucket_keys(cluster) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=cluster.env["AWS_S3_ENDPOINT_URL"],
        region_name=MOTO_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=MOTO_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=MOTO_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    listing = client.list_objects_v2(Bucket=cluster.env["AWS_STORAGE_BUCKET_NAME"])
    return sorted(item["Key"] for item in listing.get("Contents", []))


def _asset_ids(client: httpx.Client) -> set[str]:
    response = client.get("/api/v1/assets")
    assert response.status_code == 200, response.text
    return {asset["id"] for asset in response.json()["results"]}


def test_upload_cut_off_by_a_killed_web_process_leaves_nothing(cluster, api, api_key):
    survivor = api["web-2"]
    assets_before, keys_before = _asset_ids(survivor), _bucket_keys(cluster)
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    sent = 0

    def body():
        nonlocal sent
        yield head
        while sent < BODY_BYTES:
            if sent >= KILL_AFTER and alive(cluster.pid("web-1")):
                cluster.kill("web-1")
            yield os.urandom(CHUNK)
            sent += CHUNK
        yield tail

    headers = {
        "Authorization": f"Token {api_key}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + BODY_BYTES + len(tail)),
    }
    with pytest.raises(httpx.TransportError):
        httpx.post(cluster.url("web-1") + "/api/v1/assets", content=body(), headers=headers, timeout=30)
    print(f"\n[chaos] upload cut off after {sent / 2**20:.1f} of {BODY_BYTES / 2**20:.0f} MiB by killing web-1")
    assert sent < BODY_BYTES

    cluster.start_web("web-1")
    assert wait_until(lambda: cluster.answers("web-1"), 60)
    assert _asset_ids(survivor) == assets_before
    assert _asset_ids(api["web-1"]) == assets_before
    assert _bucket_keys(cluster) == keys_before
