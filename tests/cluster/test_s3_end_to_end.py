"""One job through the production topology: uploaded through one web process to S3, run by a qcluster worker,
downloaded through the other web process."""

import time

import httpx
import pytest

from tests.cluster.conftest import upload
from tests.media import probe, streams

pytestmark = pytest.mark.cluster


def test_upload_on_one_web_process_job_on_a_worker_download_on_the_other(api, short_clip, tmp_path):
    first, second = api["web-1"], api["web-2"]
    asset = upload(first, short_clip)
    body = {"operation": "transcode", "input": asset["id"], "params": {"height": 120, "preset": "ultrafast"}}
    response = first.post("/api/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    deadline = time.monotonic() + 60
    while (job := second.get(f"/api/v1/jobs/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job still {job['status']} after 60 s"
        time.sleep(0.3)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1

    [output] = job["outputs"]
    content = second.get(f"/api/v1/assets/{output['id']}/content")
    assert content.status_code == 302  # a signed URL on the S3 endpoint
    assert "Signature" in content.headers["location"]
    downloaded = tmp_path / "output.mp4"
    downloaded.write_bytes(httpx.get(content.headers["location"]).raise_for_status().content)

    info = probe(downloaded)
    [video] = streams(info, "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 160, 120)
    assert float(info["format"]["duration"]) == pytest.approx(1.0, abs=0.1)
