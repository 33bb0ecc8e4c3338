"""quality: PSNR and SSIM of generated clips against their originals, the stats files, and refused requests."""

import re
import subprocess
from pathlib import Path

import pytest

from jobs.operations.quality import PSNR_CAP
from tests.media import ffmpeg


def has_libvmaf() -> bool:
    listing = subprocess.run(["ffmpeg", "-hide_banner", "-filters"], capture_output=True, text=True, check=True)
    return any(line.split()[1:2] == ["libvmaf"] for line in listing.stdout.splitlines())


@pytest.fixture(scope="session")
def crf40_path(media_dir, clip_path) -> Path:
    """The 2 s test clip re-encoded badly (x264 CRF 40): visibly blocky, same size and frames."""
    path = media_dir / "quality-crf40.mp4"
    if not path.exists():
        ffmpeg("-i", str(clip_path), "-c:v", "libx264", "-crf", "40", "-preset", "ultrafast", "-an", str(path))
    return path


@pytest.fixture(scope="session")
def small_path(media_dir, clip_path) -> Path:
    """The 2 s test clip at 160×120."""
    path = media_dir / "quality-160x120.mp4"
    if not path.exists():
        ffmpeg("-i", str(clip_path), "-vf", "scale=160:120", "-c:v", "libx264", "-preset", "ultrafast", str(path))
    return path


@pytest.fixture
def reference(alice_api, upload, clip_path) -> dict:
    return upload(alice_api, clip_path)


def compare(client, run_job, distorted_id: str, params: dict) -> dict:
    job = run_job(client, {"operation": "quality", "input": distorted_id, "params": params})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    return job


def ffmpeg_summary(distorted: Path, reference: Path) -> dict[str, float]:
    """FFmpeg's own SSIM "All" and PSNR min/max over the clip, from one separate run's summary lines."""
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(distorted), "-i", str(reference)]
        + ["-lavfi", "[0:v][1:v]ssim;[0:v][1:v]psnr", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    ssim = re.search(r"SSIM .*All:(\S+)", done.stderr)
    psnr = re.search(r"PSNR .*min:(\S+) max:(\S+)", done.stderr)
    return {"ssim": float(ssim[1]), "psnr_min": float(psnr[1]), "psnr_max": float(psnr[2])}


def test_a_clip_against_itself_is_identical(alice_api, run_job, fetch_output, reference):
    job = compare(alice_api, run_job, reference["id"], {"reference": reference["id"], "metrics": ["psnr", "ssim"]})
    psnr, ssim = job["result"]["psnr"], job["result"]["ssim"]
    # FFmpeg says inf for identical frames; JSON has none, so the cap stands for it and `identical` says so.
    assert psnr["mean"] == psnr["min"] == psnr["max"] == PSNR_CAP == 100
    assert (psnr["y"], psnr["u"], psnr["v"]) == (100, 100, 100)
    assert psnr["identical"] is True
    assert ssim["mean"] == pytest.approx(1.0, abs=1e-6)
    assert ssim["min"] == pytest.approx(1.0, abs=1e-6)
    assert (psnr["frames"], ssim["frames"]) == (50, 50)


def test_stats_files_are_outputs_with_a_line_per_frame(alice_api, run_job, fetch_output, reference):
    job = compare(alice_api, run_job, reference["id"], {"reference": reference["id"]})
    outputs = {output["name"]: output for output in job["outputs"]}
    assert set(outputs) == {"clip-psnr.log", "clip-ssim.log"}
    assert {output["kind"] for output in outputs.values()} == {"data"}
    psnr_lines = fetch_output(outputs["clip-psnr.log"]).read_text().splitlines()
    ssim_lines = fetch_output(outputs["clip-ssim.log"]).read_text().splitlines()
    assert len(psnr_lines) == len(ssim_lines) == 50
    assert psnr_lines[0].startswith("n:1 mse_avg:0.00") and "psnr_avg:inf" in psnr_lines[0]
    assert ssim_lines[-1].startswith("n:50 Y:1.000000")


def test_a_badly_encoded_copy_scores_lower(alice_api, upload, run_job, fetch_output, reference, crf40_path, clip_path):
    distorted = upload(alice_api, crf40_path)
    job = compare(alice_api, run_job, distorted["id"], {"reference": reference["id"], "metrics": ["psnr", "ssim"]})
    psnr, ssim = job["result"]["psnr"], job["result"]["ssim"]
    assert 20 <= psnr["min"] <= psnr["mean"] <= psnr["max"] <= 45, psnr
    assert psnr["identical"] is False
    assert all(20 <= psnr[plane] <= 50 for plane in "yuv"), psnr
    assert 0.5 < ssim["min"] <= ssim["mean"] <= ssim["max"] < 1, ssim
    # The figures agree with FFmpeg's own summary of the same comparison.
    expected = ffmpeg_summary(crf40_path, clip_path)
    assert ssim["mean"] == pytest.approx(expected["ssim"], abs=1e-5)
    assert psnr["min"] == pytest.approx(expected["psnr_min"], abs=0.01)
    assert psnr["max"] == pytest.approx(expected["psnr_max"], abs=0.01)
    assert {output["name"] for output in job["outputs"]} == {"quality-crf40-psnr.log", "quality-crf40-ssim.log"}


def test_a_smaller_copy_is_scaled_to_the_reference(alice_api, upload, run_job, reference, small_path):
    distorted = upload(alice_api, small_path)
    assert (distorted["width"], distorted["height"]) == (160, 120)
    result = compare(alice_api, run_job, distorted["id"], {"reference": reference["id"]})["result"]
    assert (result["width"], result["height"], result["pix_fmt"]) == (320, 240, "yuv420p")
    assert 15 <= result["psnr"]["mean"] < 60 and result["psnr"]["identical"] is False
    assert 0.3 < result["ssim"]["mean"] < 1
    assert result["psnr"]["frames"] == 50


def test_one_metric_gives_one_stats_file(alice_api, run_job, reference):
    job = compare(alice_api, run_job, reference["id"], {"reference": reference["id"], "metrics": ["ssim"]})
    assert [output["name"] for output in job["outputs"]] == ["clip-ssim.log"]
    assert "psnr" not in job["result"] and job["result"]["ssim"]["frames"] == 50


# --- the catalog and refused requests ----------------------------------------------------------------------


def test_quality_is_in_the_catalog_with_its_reference_and_vmaf_capability(alice_api):
    catalog = {op["name"]: op for op in alice_api.get("/api/v1/operations").json()["results"]}
    entry = catalog["quality"]
    assert entry["asset_params"] == {"reference": ["video"]}
    assert entry["capabilities"] == {"vmaf": has_libvmaf()}
    schema = entry["params_schema"]
    assert schema["required"] == ["reference"]
    assert schema["properties"]["metrics"]["default"] == ["psnr", "ssim"]


def submit(client, input_id: str, params: dict):
    return client.post("/api/v1/jobs", {"operation": "quality", "input": input_id, "params": params}, format="json")


def error_fields(response) -> dict:
    from jobs.models import Job

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert not Job.objects.exists()
    return error["fields"]


@pytest.mark.skipif(has_libvmaf(), reason="this FFmpeg has libvmaf, so vmaf is accepted")
def test_vmaf_without_libvmaf_is_refused_naming_metrics(alice_api, reference):
    fields = error_fields(submit(alice_api, reference["id"], {"reference": reference["id"], "metrics": ["vmaf"]}))
    assert list(fields) == ["params.metrics"]
    assert "libvmaf" in fields["params.metrics"][0]


def test_reference_of_another_user_is_unknown(alice_api, bob_api, upload, reference, clip_path):
    bobs = upload(bob_api, clip_path)
    fields = error_fields(submit(alice_api, reference["id"], {"reference": bobs["id"]}))
    assert fields == {"params.reference": [f"No asset {bobs['id']}."]}


def test_audio_reference_is_refused(alice_api, upload, reference, tone_path):
    tone = upload(alice_api, tone_path)
    fields = error_fields(submit(alice_api, reference["id"], {"reference": tone["id"]}))
    assert list(fields) == ["params.reference"]
    assert "audio" in fields["params.reference"][0]


def test_audio_input_is_refused(alice_api, upload, reference, tone_path):
    tone = upload(alice_api, tone_path)
    fields = error_fields(submit(alice_api, tone["id"], {"reference": reference["id"]}))
    assert list(fields) == ["inputs.0"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "params.reference"),
        ({"metrics": ["psnr", "psnr"]}, "params.metrics"),
        ({"metrics": []}, "params.metrics"),
        ({"metrics": ["mse"]}, "params.metrics.0"),
        ({"metric": ["psnr"]}, "params.metric"),
    ],
)
def test_bad_params_give_400_naming_the_field(alice_api, reference, params, field):
    body = params if field == "params.reference" else {"reference": reference["id"], **params}
    assert field in error_fields(submit(alice_api, reference["id"], body))
