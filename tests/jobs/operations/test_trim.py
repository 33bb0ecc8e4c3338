"""trim on generated clips: stream-copy cuts start at a keyframe and keep the packets bit for bit; accurate cuts are
re-encoded and exact; audio files; containers kept; bad requests."""

import json
import subprocess
from pathlib import Path

import pytest

from jobs.operations.trim import first_packet_seconds
from tests.media import ffmpeg, make_clip, make_tone, probe

FRAME = 1 / 25 + 1e-6  # one frame of the 25 fps clips (plus float slack)
MP3_FRAME = 1152 / 44100 + 1e-6  # one MP3 frame at 44.1 kHz


@pytest.fixture(scope="session")
def ten_second_path(media_dir) -> Path:
    """10 s, 160×120, 25 fps H.264 + AAC, a keyframe every second (-g 25)."""
    path = media_dir / "trim-10s.mp4"
    return path if path.exists() else make_clip(path, seconds=10, size="160x120")


@pytest.fixture(scope="session")
def sparse_keyframes_path(media_dir) -> Path:
    """10 s, 160×120, 25 fps H.264 + AAC, a keyframe every 2 s (-g 50, no scene-cut keyframes)."""
    path = media_dir / "trim-gop50.mp4"
    if not path.exists():
        ffmpeg(
            "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=10",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=10",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50", "-sc_threshold", "0",
            "-c:a", "aac", "-shortest", str(path),
        )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def tone_4s_path(media_dir) -> Path:
    path = media_dir / "trim-tone.mp3"
    return path if path.exists() else make_tone(path, seconds=4)


def packets(path: Path, stream: str = "v:0") -> list[dict]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time,flags"]
        + ["-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)["packets"]


def keyframe_at_or_before(path: Path, seconds: float) -> float:
    """Seconds into the file (its clock minus its start time, as -ss counts) of the last keyframe at or before."""
    start_time = float(probe(path)["format"].get("start_time", 0))
    keyframes = [float(p["pts_time"]) - start_time for p in packets(path) if p["flags"].startswith("K")]
    return max(t for t in keyframes if t <= seconds)


def packet_hashes(path: Path) -> list[str]:
    """The MD5 of every video packet, in order (the payload, not the timestamps)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.rsplit(",", 1)[1].strip() for line in out.stdout.splitlines() if not line.startswith("#")]


def video(info: dict) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def x264_settings(path: Path) -> str:
    data = path.read_bytes()
    start = data.index(b"x264 - core")
    return data[start : data.index(b"\x00", start)].decode(errors="replace")


def trim(client, run_job, asset_id: str, params: dict) -> dict:
    job = run_job(client, {"operation": "trim", "input": asset_id, "params": params})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    assert len(job["outputs"]) == 1, job["outputs"]
    return job


@pytest.fixture
def ten_second(alice_api, upload, ten_second_path) -> dict:
    return upload(alice_api, ten_second_path)


# --- copy mode ------------------------------------------------------------------------------------------


def test_canonical_copy_example_gives_six_seconds_from_the_keyframe_at_two(
    alice_api, run_job, fetch_output, ten_second, ten_second_path
):
    job = trim(alice_api, run_job, ten_second["id"], {"start": 2, "end": 8, "mode": "copy"})
    [output] = job["outputs"]
    path = fetch_output(output)
    info = probe(path)
    assert abs(float(video(info)["duration"]) - 6) <= FRAME
    assert abs(output["duration"] - 6) <= FRAME
    assert output["name"] == "trim-10s.mp4" and info["format"]["format_name"].startswith("mov,mp4")
    assert packets(path)[0]["flags"].startswith("K")
    assert job["result"] == {
        "mode": "copy",
        "requested_start": 2,
        "requested_end": 8,
        "actual_start": 2.0,
        "actual_end": 8.0,
        "duration": 6.0,
    }
    # Not re-encoded: the same codec parameters and the very packets of seconds 2–8 of the source.
    original = video(probe(ten_second_path))
    for key in ("codec_name", "profile", "level", "width", "height", "pix_fmt", "extradata_size"):
        assert video(info)[key] == original[key], key
    assert packet_hashes(path) == packet_hashes(ten_second_path)[50:200]
    assert [s["codec_type"] for s in info["streams"]] == ["video", "audio"]


def test_copy_starts_at_the_keyframe_before_start(alice_api, upload, run_job, fetch_output, sparse_keyframes_path):
    asset = upload(alice_api, sparse_keyframes_path)
    job = trim(alice_api, run_job, asset["id"], {"start": 3, "end": 8, "mode": "copy"})
    result = job["result"]
    assert (result["requested_start"], result["actual_start"]) == (3, 2.0)
    assert abs(result["actual_end"] - 8) <= FRAME and abs(result["duration"] - 6) <= FRAME
    path = fetch_output(job["outputs"][0])
    assert packets(path)[0]["flags"].startswith("K")
    assert len(packets(path)) == 150  # frames 50–199: from the keyframe at 2 s to the end at 8 s
    assert packet_hashes(path) == packet_hashes(sparse_keyframes_path)[50:200]


def test_copy_with_duration_and_a_start_on_a_keyframe(alice_api, upload, run_job, sparse_keyframes_path):
    asset = upload(alice_api, sparse_keyframes_path)
    job = trim(alice_api, run_job, asset["id"], {"start": 4, "duration": 3, "mode": "copy"})
    result = job["result"]
    assert result["actual_start"] == 4.0 and result["requested_end"] == 7
    assert abs(result["duration"] - 3) <= FRAME
    assert abs(job["outputs"][0]["duration"] - 3) <= FRAME + 0.03  # the audio may start up to an AAC frame early


def test_copy_without_end_runs_to_the_end_of_the_input(alice_api, run_job, ten_second):
    job = trim(alice_api, run_job, ten_second["id"], {"start": 7, "mode": "copy"})
    assert job["result"]["actual_start"] == 7.0
    assert job["result"]["requested_end"] is None
    assert abs(job["result"]["duration"] - 3) <= FRAME


@pytest.mark.parametrize(("container", "format_name"), [("mkv", "matroska"), ("mov", "mov,mp4")])
def test_copy_keeps_the_source_container(
    alice_api, upload, run_job, fetch_output, media_dir, ten_second_path, container, format_name
):
    source = media_dir / f"trim-10s.{container}"
    if not source.exists():
        ffmpeg("-i", str(ten_second_path), "-c", "copy", str(source))
    asset = upload(alice_api, source)
    job = trim(alice_api, run_job, asset["id"], {"start": 1, "end": 3, "mode": "copy"})
    [output] = job["outputs"]
    info = probe(fetch_output(output))
    assert output["name"] == f"trim-10s.{container}"
    assert info["format"]["format_name"].startswith(format_name)
    if container == "mov":
        assert info["format"]["tags"]["major_brand"].strip() == "qt"
    assert video(info)["codec_name"] == "h264"
    # A remux can move the clock (Matroska starts the video after the AAC priming, keyframes at 0.021, 1.021, …):
    # the cut starts at the keyframe at or before 1 s on the file's own clock.
    result = job["result"]
    assert result["actual_start"] == pytest.approx(keyframe_at_or_before(source, 1), abs=1e-6)
    assert abs(result["actual_end"] - 3) <= FRAME
    assert result["duration"] == pytest.approx(result["actual_end"] - result["actual_start"], abs=1e-6)


@pytest.fixture(scope="session")
def webm_path(media_dir) -> Path:
    """2 s, 160×120 VP9 + Opus WebM."""
    path = media_dir / "trim-2s.webm"
    if not path.exists():
        ffmpeg(
            "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
            "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "25", "-c:a", "libopus",
            "-shortest", str(path),
        )  # fmt: skip
    return path


@pytest.mark.parametrize("mode", ["copy", "accurate"])
def test_webm_stays_webm_with_vp9_and_opus(alice_api, upload, run_job, fetch_output, webm_path, mode):
    asset = upload(alice_api, webm_path)
    params = {"start": 0.5, "end": 1.5, "mode": mode} | ({"preset": "ultrafast"} if mode == "accurate" else {})
    job = trim(alice_api, run_job, asset["id"], params)
    [output] = job["outputs"]
    path = fetch_output(output)
    info = probe(path)
    assert output["name"] == "trim-2s.webm"
    assert b"webm" in path.read_bytes()[:64]
    assert [s["codec_name"] for s in info["streams"]] == ["vp9", "opus"]
    # Copy: the only keyframe before 0.5 s is the first frame, 14 ms into the file (Opus's pre-skip starts it).
    expected_start = 0.5 if mode == "accurate" else keyframe_at_or_before(webm_path, 0.5)
    assert job["result"]["actual_start"] == pytest.approx(expected_start, abs=1e-6)
    assert abs(job["result"]["actual_end"] - 1.5) <= FRAME


# --- accurate mode --------------------------------------------------------------------------------------


def test_accurate_cut_is_exact_and_re_encoded(alice_api, run_job, fetch_output, ten_second, ten_second_path):
    job = trim(alice_api, run_job, ten_second["id"], {"start": 2.5, "end": 4.5, "mode": "accurate"})
    [output] = job["outputs"]
    path = fetch_output(output)
    info = probe(path)
    assert abs(float(video(info)["duration"]) - 2) <= FRAME
    assert abs(output["duration"] - 2) <= FRAME
    assert len(packets(path)) == 50
    assert [s["codec_type"] for s in info["streams"]] == ["video", "audio"]
    assert job["result"]["mode"] == "accurate" and job["result"]["actual_start"] == 2.5
    assert abs(job["result"]["actual_end"] - 4.5) <= FRAME
    # Re-encoded with the veryfast preset (CABAC on), where the ultrafast source has CABAC off.
    assert " cabac=0 " in x264_settings(ten_second_path)
    assert " cabac=1 " in x264_settings(path) and " crf=23.0 " in x264_settings(path)
    assert packets(path)[0]["flags"].startswith("K")


def test_accurate_is_the_default_mode(alice_api, run_job, ten_second):
    job = trim(alice_api, run_job, ten_second["id"], {"start": 1.5, "duration": 1})
    assert job["result"]["mode"] == "accurate"
    assert abs(job["result"]["duration"] - 1) <= FRAME


def test_end_past_the_input_is_cut_to_it(alice_api, run_job, ten_second):
    job = trim(alice_api, run_job, ten_second["id"], {"start": 9, "end": 60, "preset": "ultrafast"})
    assert abs(job["result"]["duration"] - 1) <= FRAME
    assert job["result"]["requested_end"] == 60


# --- audio ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "start", "end"), [("copy", 1, 3), ("accurate", 0.5, 1.5)])
def test_audio_file_is_trimmed_in_its_own_format(
    alice_api, upload, run_job, fetch_output, tone_4s_path, mode, start, end
):
    asset = upload(alice_api, tone_4s_path)
    job = trim(alice_api, run_job, asset["id"], {"start": start, "end": end, "mode": mode})
    [output] = job["outputs"]
    info = probe(fetch_output(output))
    assert output["name"] == "trim-tone.mp3" and output["kind"] == "audio"
    assert [s["codec_name"] for s in info["streams"]] == ["mp3"]
    assert abs(float(info["format"]["duration"]) - (end - start)) <= 2 * MP3_FRAME
    assert abs(job["result"]["actual_start"] - start) <= MP3_FRAME


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["copy", "accurate"])
def test_start_past_the_end_fails_with_invalid_trim(alice_api, run_job, ten_second, mode):
    job = run_job(alice_api, {"operation": "trim", "input": ten_second["id"], "params": {"start": 12, "mode": mode}})
    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid_trim"
    assert "12" in job["error"]["message"]
    assert job["outputs"] == []


INVALID = [
    pytest.param({"start": 8, "end": 2}, "params.end", id="end-before-start"),
    pytest.param({"start": 2, "end": 2}, "params.end", id="end-equals-start"),
    pytest.param({"start": 2, "end": 5, "duration": 3}, "params.duration", id="end-and-duration"),
    pytest.param({"duration": 0}, "params.duration", id="zero-duration"),
    pytest.param({"start": -1}, "params.start", id="negative-start"),
    pytest.param({"mode": "fast"}, "params.mode", id="unknown-mode"),
    pytest.param({"mode": "copy", "preset": "slow"}, "params.preset", id="preset-with-copy"),
    pytest.param({"speed": 2}, "params.speed", id="unknown-field"),
]


@pytest.mark.parametrize(("params", "field"), INVALID)
def test_invalid_params_give_400_naming_the_field(alice_api, ten_second, params, field):
    from jobs.models import Job

    body = {"operation": "trim", "input": ten_second["id"], "params": params}
    response = alice_api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["message"]
    assert list(error["fields"]) == [field], error["fields"]
    assert not Job.objects.exists()


def test_image_input_is_refused(alice_api, upload, media_dir):
    image = media_dir / "trim-still.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1", str(image))
    asset = upload(alice_api, image)
    response = alice_api.post("/api/v1/jobs", {"operation": "trim", "input": asset["id"]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["inputs.0"]


def test_catalog_lists_trim_with_its_params(alice_api):
    catalog = {op["name"]: op for op in alice_api.get("/api/v1/operations").json()["results"]}
    trim_op = catalog["trim"]
    assert trim_op["inputs"] == {"min": 1, "max": 1, "kinds": ["video", "audio"]}
    properties = trim_op["params_schema"]["properties"]
    assert set(properties) == {"start", "end", "duration", "mode", "preset"}
    assert properties["mode"]["enum"] == ["copy", "accurate"]


# --- the framecrc reading -------------------------------------------------------------------------------


def test_first_packet_time_is_read_on_the_input_clock():
    listing = "#tb 0: 1/12800\n#media_type 0: video\n0,      25600,      25600,      512,    10506, 0x14acbb7d\n"
    assert first_packet_seconds(listing, 0.0) == 2.0
    assert first_packet_seconds(listing, 1.4) == 0.6  # an MPEG-TS style clock that starts at 1.4 s
    nopts = "#tb 0: 1/1000\n0,       2000, -9223372036854775808,       40,      100, 0x0\n"
    assert first_packet_seconds(nopts, 0.0) == 2.0
    assert first_packet_seconds("#tb 0: 1/1000\n", 0.0) is None
