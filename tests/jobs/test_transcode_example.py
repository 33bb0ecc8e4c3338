"""The contract's canonical transcode example, exactly as written in API.md."""

from tests.media import probe


def test_vp9_webm_example_gives_480_high_webm_of_source_duration(alice_api, upload, run_job, fetch_output, clip_path):
    asset = upload(alice_api, clip_path)
    job = run_job(
        alice_api,
        {
            "operation": "transcode",
            "input": asset["id"],
            "params": {"format": "webm", "video_codec": "vp9", "height": 480},
        },
    )
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    [output] = job["outputs"]
    info = probe(fetch_output(output))
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert info["format"]["format_name"].startswith("matroska,webm")
    assert video["codec_name"] == "vp9"
    assert video["height"] == 480 and video["width"] == 640
    assert abs(float(info["format"]["duration"]) - 2.0) <= 0.05
