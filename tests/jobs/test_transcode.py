"""transcode on real generated clips: containers, codecs, sizes, frame rates, trims, quality and bad requests.

Every output is probed with ffprobe and decoded end to end, so "playable" means FFmpeg reads every packet
without an error, not only that a header parses."""

import subprocess
from pathlib import Path

import pytest

from tests.media import decode_errors, make_clip, probe, streams

FRAME = 1 / 25 + 1e-6  # one frame of the 25 fps source clips (plus float slack): the duration tolerance
# WebM with Opus: Opus's 312-sample pre-skip (6.5 ms at 48 kHz) is stored as a negative audio start, rounded to
# Matroska's 1 ms clock, so the container's span is up to 7 ms longer than its video (measured: 1.047 s for a
# 1 s cut whose video is exactly 25 frames).
OPUS_PRESKIP = 0.007

FORMAT_NAMES = {"mp4": "mov,mp4", "mov": "mov,mp4", "webm": "matroska,webm", "mkv": "matroska,webm"}
CODEC_NAMES = {"h264": "h264", "h265": "hevc", "av1": "av1", "vp9": "vp9", "aac": "aac", "mp3": "mp3", "opus": "opus"}


@pytest.fixture(scope="session")
def portrait_clip_path(media_dir) -> Path:
    """2 s, 240×320 (portrait), 25 fps H.264 + AAC."""
    return make_clip(media_dir / "portrait.mp4", size="240x320")


@pytest.fixture(scope="session")
def truncated_clip_path(media_dir, clip_path) -> Path:
    """The generated MP4 cut in half: its moov atom (written last) is gone."""
    data = clip_path.read_bytes()
    path = media_dir / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture(scope="session")
def truncated_faststart_clip_path(media_dir, clip_path) -> Path:
    """A web-optimised (+faststart) MP4 cut in half: the index is intact and promises 2 s, the media is half."""
    whole = media_dir / "faststart.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(clip_path), "-c", "copy", "-movflags", "+faststart", str(whole)],
        check=True,
    )
    data = whole.read_bytes()
    path = media_dir / "truncated-faststart.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def video_frames(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames"]
        + ["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip().rstrip(","))


def transcode(client, run_job, asset_id: str, params: dict) -> dict:
    job = run_job(client, {"operation": "transcode", "input": asset_id, "params": params})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    assert len(job["outputs"]) == 1, job["outputs"]
    return job


# --- containers and codecs ------------------------------------------------------------------------------

MATRIX = [
    pytest.param({"format": "mp4", "video_codec": "h264", "audio_codec": "aac"}, "h264", "aac", id="mp4-h264-aac"),
    pytest.param({"format": "mp4", "video_codec": "h265"}, "h265", "aac", id="mp4-h265"),
    pytest.param({"format": "mp4", "video_codec": "av1"}, "av1", "aac", id="mp4-av1"),
    pytest.param({"format": "webm", "video_codec": "vp9", "audio_codec": "opus"}, "vp9", "opus", id="webm-vp9-opus"),
    pytest.param({"format": "webm", "video_codec": "av1"}, "av1", "opus", id="webm-av1"),
    pytest.param({"format": "mov", "video_codec": "h264"}, "h264", "aac", id="mov-h264"),
    pytest.param({"format": "mkv", "video_codec": "h264"}, "h264", "aac", id="mkv-h264"),
    pytest.param({"format": "mp4", "audio_codec": "none"}, "h264", None, id="mp4-audio-none"),
    pytest.param({"format": "mp4", "audio_codec": "mp3"}, "h264", "mp3", id="mp4-audio-mp3"),
    pytest.param({"format": "mkv", "audio_codec": "opus"}, "h264", "opus", id="mkv-audio-opus"),
]


@pytest.mark.parametrize(("params", "video_codec", "audio_codec"), MATRIX)
def test_transcode_gives_playable_file_with_asked_container_and_codecs(
    alice_api, run_job, fetch_output, alice_clip, params, video_codec, audio_codec
):
    job = transcode(alice_api, run_job, alice_clip["id"], {**params, "preset": "ultrafast"})
    [output] = job["outputs"]
    path = fetch_output(output)
    assert decode_errors(path) == ""
    info = probe(path)

    assert info["format"]["format_name"].startswith(FORMAT_NAMES[params["format"]])
    head = path.read_bytes()[:64]
    if params["format"] == "webm":
        assert b"webm" in head and b"matroska" not in head
    elif params["format"] == "mkv":
        assert b"matroska" in head
    elif params["format"] == "mov":
        assert info["format"]["tags"]["major_brand"].strip() == "qt"
    else:
        assert info["format"]["tags"]["major_brand"] != "qt  "
    assert output["name"] == f"clip.{params['format']}"

    [video] = streams(info, "video")
    assert video["codec_name"] == CODEC_NAMES[video_codec]
    assert (video["width"], video["height"]) == (320, 240)
    assert video["pix_fmt"] == "yuv420p"
    audio = streams(info, "audio")
    if audio_codec is None:
        assert audio == []
    else:
        assert [a["codec_name"] for a in audio] == [CODEC_NAMES[audio_codec]]

    assert abs(float(info["format"]["duration"]) - alice_clip["duration"]) <= FRAME
    assert video_frames(path) == 50
    # The output asset's metadata is what ffprobe says of the file.
    assert output["video_codec"] == video["codec_name"]
    assert output["audio_codec"] == (CODEC_NAMES[audio_codec] if audio_codec else "")
    assert (output["width"], output["height"], output["kind"]) == (320, 240, "video")


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_video_codec_copy_keeps_the_source_stream_bit_for_bit(
    alice_api, run_job, fetch_output, alice_clip, clip_path, container
):
    job = transcode(alice_api, run_job, alice_clip["id"], {"format": container, "video_codec": "copy"})
    path = fetch_output(job["outputs"][0])
    assert decode_errors(path) == ""
    info = probe(path)
    [video] = streams(info, "video")
    [original] = streams(probe(clip_path), "video")
    assert video["codec_name"] == "h264"
    assert video["profile"] == original["profile"]
    assert (video["width"], video["height"]) == (320, 240)
    assert abs(float(info["format"]["duration"]) - alice_clip["duration"]) <= FRAME
    assert video_frames(path) == 50

    def packet_hashes(p: Path) -> str:
        out = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(p), "-map", "0:v", "-c", "copy", "-f", "hash", "-hash", "md5", "-"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    assert packet_hashes(path) == packet_hashes(clip_path)


def test_audio_codec_none_drops_audio_of_the_source(alice_api, run_job, fetch_output, alice_clip):
    job = transcode(alice_api, run_job, alice_clip["id"], {"audio_codec": "none", "preset": "ultrafast"})
    assert job["outputs"][0]["audio_codec"] == ""
    assert streams(probe(fetch_output(job["outputs"][0])), "audio") == []


def test_silent_source_gives_silent_output_with_default_audio_codec(
    alice_api, upload, run_job, fetch_output, silent_clip_path
):
    asset = upload(alice_api, silent_clip_path)
    job = transcode(alice_api, run_job, asset["id"], {"format": "webm", "preset": "ultrafast"})
    info = probe(fetch_output(job["outputs"][0]))
    assert [s["codec_type"] for s in info["streams"]] == ["video"]
    assert abs(float(info["format"]["duration"]) - 2.0) <= FRAME


# --- size and frame rate --------------------------------------------------------------------------------

SIZES = [
    pytest.param("clip", {"width": 160}, (160, 120), id="width-only-keeps-aspect"),
    pytest.param("clip", {"height": 120}, (160, 120), id="height-only-keeps-aspect"),
    pytest.param("clip", {"width": 160, "height": 90}, (160, 90), id="width-and-height-exact"),
    pytest.param("clip", {"resolution": "360p"}, (480, 360), id="resolution-landscape-short-side-is-height"),
    pytest.param("portrait", {"resolution": "360p"}, (360, 480), id="resolution-portrait-short-side-is-width"),
]


@pytest.mark.parametrize(("which", "size", "expected"), SIZES)
def test_transcode_gives_asked_size(
    alice_api, upload, run_job, fetch_output, clip_path, portrait_clip_path, which, size, expected
):
    asset = upload(alice_api, clip_path if which == "clip" else portrait_clip_path)
    job = transcode(alice_api, run_job, asset["id"], {**size, "preset": "ultrafast"})
    [output] = job["outputs"]
    path = fetch_output(output)
    [video] = streams(probe(path), "video")
    assert (video["width"], video["height"]) == expected
    assert (output["width"], output["height"]) == expected
    # Square pixels: the picture is scaled, not squeezed into a display aspect ratio.
    assert video.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1", "N/A")
    assert abs(output["duration"] - 2.0) <= FRAME


@pytest.mark.parametrize(("fps", "frames"), [(10, 20), (12.5, 25), (50, 100)])
def test_fps_changes_frame_rate_and_keeps_duration(alice_api, run_job, fetch_output, alice_clip, fps, frames):
    job = transcode(alice_api, run_job, alice_clip["id"], {"fps": fps, "preset": "ultrafast"})
    [output] = job["outputs"]
    path = fetch_output(output)
    info = probe(path)
    [video] = streams(info, "video")
    num, den = video["avg_frame_rate"].split("/")
    assert int(num) / int(den) == pytest.approx(fps)
    assert output["fps"] == pytest.approx(fps)
    assert video_frames(path) == frames
    assert abs(float(info["format"]["duration"]) - 2.0) <= 1 / fps


# --- trims ---------------------------------------------------------------------------------------------

TRIMS = [
    pytest.param("mp4", {"start": 0.5, "end": 1.5}, 1.0, id="mp4-start-and-end"),
    pytest.param("webm", {"start": 0.5, "end": 1.5}, 1.0, id="webm-start-and-end"),
    pytest.param("mp4", {"start": 1.2}, 0.8, id="mp4-start-only"),
    pytest.param("mp4", {"end": 0.8}, 0.8, id="mp4-end-only"),
    pytest.param("mkv", {"start": 0.4, "end": 60}, 1.6, id="mkv-end-past-source-clamps"),
]


@pytest.mark.parametrize(("container", "trim", "expected"), TRIMS)
def test_trim_gives_end_minus_start(alice_api, run_job, fetch_output, alice_clip, container, trim, expected):
    job = transcode(alice_api, run_job, alice_clip["id"], {**trim, "format": container, "preset": "ultrafast"})
    [output] = job["outputs"]
    path = fetch_output(output)
    assert decode_errors(path) == ""
    info = probe(path)
    tolerance = FRAME + (OPUS_PRESKIP if container == "webm" else 0)
    assert abs(float(info["format"]["duration"]) - expected) <= tolerance, info["format"]["duration"]
    assert abs(output["duration"] - expected) <= tolerance
    # A cut starting between two frames may keep the frame that straddles the start: ±1 frame.
    assert abs(video_frames(path) - expected * 25) <= 1


def test_trim_starting_past_the_end_fails_the_job_with_a_clear_error(alice_api, run_job, alice_clip):
    job = run_job(alice_api, {"operation": "transcode", "input": alice_clip["id"], "params": {"start": 5}})
    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid_trim"
    assert "5" in job["error"]["message"]
    assert job["outputs"] == []


# --- quality --------------------------------------------------------------------------------------------


def x264_settings(path: Path) -> str:
    """x264's own record of its options, which it writes into the stream (an SEI message)."""
    data = path.read_bytes()
    start = data.index(b"x264 - core")
    return data[start : data.index(b"\x00", start)].decode(errors="replace")


@pytest.mark.parametrize(("params", "crf"), [({"crf": 40}, "40.0"), ({"quality": "high"}, "18.0"), ({}, "23.0")])
def test_h264_crf_and_quality_reach_the_encoder(alice_api, run_job, fetch_output, alice_clip, params, crf):
    job = transcode(alice_api, run_job, alice_clip["id"], {**params, "preset": "ultrafast"})
    options = x264_settings(fetch_output(job["outputs"][0]))
    assert f" crf={crf} " in options
    assert " rc=crf " in options


def test_lower_quality_gives_smaller_file(alice_api, run_job, alice_clip):
    sizes = {}
    for quality in ("low", "high"):
        job = transcode(alice_api, run_job, alice_clip["id"], {"quality": quality, "preset": "ultrafast"})
        sizes[quality] = job["outputs"][0]["size"]
    assert sizes["low"] < sizes["high"] * 0.8, sizes


def test_vp9_crf_changes_the_output(alice_api, run_job, alice_clip):
    sizes = {}
    for crf in (50, 20):
        job = transcode(alice_api, run_job, alice_clip["id"], {"format": "webm", "crf": crf, "preset": "ultrafast"})
        sizes[crf] = job["outputs"][0]["size"]
    assert sizes[50] < sizes[20] * 0.8, sizes


def test_video_bitrate_is_targeted(alice_api, run_job, fetch_output, alice_clip):
    job = transcode(
        alice_api, run_job, alice_clip["id"], {"video_bitrate": "150k", "audio_codec": "none", "preset": "ultrafast"}
    )
    path = fetch_output(job["outputs"][0])
    options = x264_settings(path)
    assert " rc=abr " in options and " bitrate=150 " in options
    [video] = streams(probe(path), "video")
    # Rate control over 2 s is approximate; a bitrate ignored would be several times off (crf 23 is ~4x).
    assert 100_000 <= int(video["bit_rate"]) <= 225_000, video["bit_rate"]


# --- invalid requests -----------------------------------------------------------------------------------

INVALID = [
    pytest.param({"width": 321}, {"params.width"}, id="odd-width"),
    pytest.param({"height": 241}, {"params.height"}, id="odd-height"),
    pytest.param({"format": "webm", "video_codec": "h264"}, {"params.video_codec"}, id="webm-with-h264"),
    pytest.param({"format": "webm", "audio_codec": "aac"}, {"params.audio_codec"}, id="webm-with-aac"),
    pytest.param({"start": 2, "end": 1}, {"params.end"}, id="end-before-start"),
    pytest.param({"start": 1, "end": 1}, {"params.end"}, id="end-equals-start"),
    pytest.param({"speed": 2}, {"params.speed"}, id="unknown-field"),
    pytest.param({"crf": 20, "quality": "high"}, {"params.crf", "params.quality"}, id="crf-and-quality"),
    pytest.param({"crf": 55}, {"params.crf"}, id="crf-out-of-h264-range"),
    pytest.param({"format": "avi"}, {"params.format"}, id="unknown-format"),
    pytest.param({"video_bitrate": "fast"}, {"params.video_bitrate"}, id="bitrate-not-a-rate"),
    pytest.param({"fps": 0}, {"params.fps"}, id="zero-fps"),
    pytest.param(
        {"resolution": "360p", "width": 160}, {"params.resolution", "params.width"}, id="resolution-and-width"
    ),
    pytest.param({"video_codec": "copy", "width": 160}, {"params.video_codec", "params.width"}, id="copy-and-resize"),
]


@pytest.mark.parametrize(("params", "field_names"), INVALID)
def test_invalid_params_give_400_naming_the_field(alice_api, alice_clip, params, field_names):
    from jobs.models import Job

    response = alice_api.post(
        "/api/v1/jobs", {"operation": "transcode", "input": alice_clip["id"], "params": params}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert isinstance(error["message"], str) and error["message"]
    fields = error["fields"]
    assert fields and all(isinstance(messages, list) and messages for messages in fields.values())
    assert set(fields) & field_names, f"expected one of {field_names}, got {fields}"
    assert not Job.objects.exists()


@pytest.mark.parametrize("which", ["tone", "random_bytes"])
def test_asset_without_video_is_refused_naming_the_input(alice_api, upload, tone_path, random_bytes_path, which):
    from jobs.models import Job

    asset = upload(alice_api, tone_path if which == "tone" else random_bytes_path)
    assert asset["kind"] == ("audio" if which == "tone" else "data")
    response = alice_api.post("/api/v1/jobs", {"operation": "transcode", "input": asset["id"]}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["inputs.0"]
    assert asset["id"] in error["fields"]["inputs.0"][0]
    assert not Job.objects.exists()


@pytest.mark.parametrize("layout", ["moov-at-end", "faststart"])
def test_truncated_mp4_is_refused_or_fails_cleanly(
    alice_api, run_job, truncated_clip_path, truncated_faststart_clip_path, django_capture_on_commit_callbacks, layout
):
    path = truncated_clip_path if layout == "moov-at-end" else truncated_faststart_clip_path
    with open(path, "rb") as fh:
        uploaded = alice_api.post("/api/v1/assets", {"file": fh}, format="multipart")
    assert uploaded.status_code < 500, uploaded.content
    if 400 <= uploaded.status_code < 500:
        assert uploaded.json()["error"]["code"]
        return
    asset = uploaded.json()
    with django_capture_on_commit_callbacks(execute=True):
        submitted = alice_api.post("/api/v1/jobs", {"operation": "transcode", "input": asset["id"]}, format="json")
    assert submitted.status_code < 500, submitted.content
    if 400 <= submitted.status_code < 500:
        error = submitted.json()["error"]
        assert error["code"] == "validation_error" and "inputs.0" in error["fields"]
        return
    job = alice_api.get(f"/api/v1/jobs/{submitted.json()['id']}").json()
    # A half file must not pass for a whole one: the job fails and says why.
    assert job["status"] == "failed", f"succeeded with outputs {[(o['duration'], o['size']) for o in job['outputs']]}"
    assert job["error"]["code"] and job["error"]["code"] != "internal_error"
    assert len(job["error"]["message"]) > 10
    assert job["outputs"] == []


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_input_that_became_unusable_fails_job_cleanly(alice_api, run_job, alice_clip, damage):
    from jobs.models import Asset

    stored = Path(Asset.objects.get(id=alice_clip["id"]).file.path)
    if damage == "truncated":
        stored.write_bytes(stored.read_bytes()[: stored.stat().st_size // 2])
    else:
        stored.unlink()
    job = run_job(alice_api, {"operation": "transcode", "input": alice_clip["id"], "params": {"preset": "ultrafast"}})
    assert job["status"] == "failed"
    assert job["error"]["code"] not in ("", "internal_error")
    assert job["error"]["message"]
    assert str(stored.parent) not in job["error"]["message"]  # no server paths in what users see
    assert job["outputs"] == []
    assert job["finished_at"] is not None
