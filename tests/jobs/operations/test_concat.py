"""concat on generated clips: matching inputs are joined by stream copy, others are normalised and re-encoded in
one concat filter; audio files; repeats; the list file we write; bad requests."""

import re
import subprocess
from pathlib import Path

import pytest

from jobs.ffmpeg.inputs import SAFE_DEMUXERS
from jobs.operations.concat import concat_list, quote
from tests.media import decode_errors, make_clip, make_tone, probe, streams

TOLERANCE = 0.1


@pytest.fixture(scope="session")
def wide_clip_path(media_dir) -> Path:
    """1 s, 640×360, 25 fps H.264 + AAC."""
    path = media_dir / "concat-wide.mp4"
    return path if path.exists() else make_clip(path, seconds=1, size="640x360")


@pytest.fixture(scope="session")
def short_tone_path(media_dir) -> Path:
    path = media_dir / "concat-tone.mp3"
    return path if path.exists() else make_tone(path, seconds=1)


def mean_volume(path: Path, start: float, length: float) -> float:
    """RMS level in dBFS of `length` seconds of the audio from `start`."""
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af"]
        + [f"atrim=start={start}:duration={length},volumedetect", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.search(r"mean_volume: (-?[0-9.]+|-inf) dB", done.stderr)[1])


def top_rows_brightness(path: Path, at: float, rows: int = 20) -> int:
    """The brightest luma value in the top `rows` rows of the frame at `at` seconds."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1"]
        + ["-vf", f"crop=iw:{rows}:0:0,format=gray", "-f", "rawvideo", "-"],
        capture_output=True,
        check=True,
    )
    return max(done.stdout)


def concat(client, run_job, inputs: list[str], params: dict | None = None) -> dict:
    job = run_job(client, {"operation": "concat", "inputs": inputs, "params": params or {}})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    assert len(job["outputs"]) == 1, job["outputs"]
    return job


def submit(client, inputs: list[str], params: dict | None = None):
    body = {"operation": "concat", "inputs": inputs, "params": params or {}}
    return client.post("/api/v1/jobs", body, format="json")


@pytest.fixture
def two_clips(alice_api, upload, clip_path) -> list[dict]:
    return [upload(alice_api, clip_path), upload(alice_api, clip_path)]


# --- stream copy ----------------------------------------------------------------------------------------


def test_canonical_example_joins_matching_clips_by_stream_copy(alice_api, run_job, fetch_output, two_clips, clip_path):
    job = concat(alice_api, run_job, [a["id"] for a in two_clips])
    [output] = job["outputs"]
    path = fetch_output(output)
    assert decode_errors(path) == ""
    info = probe(path)
    expected = sum(a["duration"] for a in two_clips)
    assert abs(float(info["format"]["duration"]) - expected) <= TOLERANCE
    assert job["result"]["mode"] == "copy"
    assert job["result"]["duration"] == pytest.approx(float(info["format"]["duration"]), abs=1e-3)
    assert output["name"] == "clip-joined.mp4"
    # Stream copy: the source's codec parameters and every one of its packets, twice.
    [video], [original] = streams(info, "video"), streams(probe(clip_path), "video")
    for key in ("codec_name", "profile", "level", "width", "height", "pix_fmt", "extradata_size"):
        assert video[key] == original[key], key
    assert int(video["nb_frames"]) == 2 * int(original["nb_frames"])
    assert [s["codec_name"] for s in streams(info, "audio")] == ["aac"]


def test_the_same_asset_can_be_joined_to_itself(alice_api, run_job, fetch_output, two_clips):
    asset = two_clips[0]
    job = concat(alice_api, run_job, [asset["id"]] * 3)
    assert job["result"]["mode"] == "copy"
    assert abs(job["result"]["duration"] - 3 * asset["duration"]) <= TOLERANCE


def test_audio_files_are_joined_by_stream_copy(alice_api, upload, run_job, fetch_output, short_tone_path):
    tones = [upload(alice_api, short_tone_path), upload(alice_api, short_tone_path)]
    job = concat(alice_api, run_job, [t["id"] for t in tones])
    [output] = job["outputs"]
    info = probe(fetch_output(output))
    assert job["result"]["mode"] == "copy"
    assert output["name"] == "concat-tone-joined.mp3" and output["kind"] == "audio"
    assert [s["codec_name"] for s in info["streams"]] == ["mp3"]
    assert abs(float(info["format"]["duration"]) - sum(t["duration"] for t in tones)) <= TOLERANCE


def test_copy_on_mismatched_inputs_is_refused_listing_the_differences(
    alice_api, upload, clip_path, wide_clip_path, silent_clip_path
):
    from jobs.models import Job

    inputs = [upload(alice_api, p)["id"] for p in (clip_path, wide_clip_path, silent_clip_path)]
    response = submit(alice_api, inputs, {"mode": "copy"})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    [message] = error["fields"]["params.mode"]
    assert "inputs.1 video width is 640, inputs.0 has 320" in message
    assert "inputs.1 video height is 360, inputs.0 has 240" in message
    assert "inputs.2 audio codec_name is none, inputs.0 has aac" in message
    assert "inputs.2 streams is video, inputs.0 has video+audio" in message
    assert not Job.objects.exists()


# --- re-encode ------------------------------------------------------------------------------------------


def test_mismatched_clips_are_normalised_to_the_first_and_joined(
    alice_api, upload, run_job, fetch_output, clip_path, silent_clip_path, wide_clip_path
):
    assets = [upload(alice_api, p) for p in (clip_path, silent_clip_path, wide_clip_path)]
    job = concat(alice_api, run_job, [a["id"] for a in assets])
    [output] = job["outputs"]
    path = fetch_output(output)
    assert decode_errors(path) == ""
    info = probe(path)
    assert job["result"]["mode"] == "reencode"
    [video], [audio] = streams(info, "video"), streams(info, "audio")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
    assert video.get("sample_aspect_ratio", "1:1") in ("1:1", "N/A")
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "48000", 2)
    expected = sum(a["duration"] for a in assets)  # 2 + 2 + 1 s
    assert abs(float(info["format"]["duration"]) - expected) <= TOLERANCE
    assert abs(float(video["duration"]) - expected) <= TOLERANCE
    assert abs(float(audio["duration"]) - expected) <= TOLERANCE
    # The tone, then silence where the second clip has no audio, then the tone again.
    assert mean_volume(path, 0.5, 1) > -30
    assert mean_volume(path, 2.5, 1) < -80
    assert mean_volume(path, 4.2, 0.6) > -30
    # The 16:9 clip is scaled into 4:3 and letterboxed: black bars above and below it.
    assert top_rows_brightness(path, 4.5) < 30
    assert top_rows_brightness(path, 0.5) > 100


def test_a_last_input_without_audio_gets_silence_to_the_end(
    alice_api, upload, run_job, fetch_output, clip_path, silent_clip_path
):
    assets = [upload(alice_api, clip_path), upload(alice_api, silent_clip_path)]
    job = concat(alice_api, run_job, [a["id"] for a in assets], {"preset": "ultrafast"})
    info = probe(fetch_output(job["outputs"][0]))
    [audio] = streams(info, "audio")
    expected = sum(a["duration"] for a in assets)
    assert abs(float(audio["duration"]) - expected) <= TOLERANCE


def test_reencode_mode_with_a_width_keeps_the_aspect_ratio(alice_api, run_job, fetch_output, two_clips):
    job = concat(alice_api, run_job, [two_clips[0]["id"]] * 2, {"mode": "reencode", "width": 160})
    assert job["result"]["mode"] == "reencode"
    [video] = streams(probe(fetch_output(job["outputs"][0])), "video")
    assert (video["width"], video["height"]) == (160, 120)
    assert abs(job["result"]["duration"] - 2 * two_clips[0]["duration"]) <= TOLERANCE


def test_audio_files_of_different_formats_are_re_encoded(alice_api, upload, run_job, fetch_output, media_dir):
    from tests.media import ffmpeg

    wav = media_dir / "concat-tone.wav"
    if not wav.exists():
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=22050:duration=1", "-ac", "1", str(wav))
    mp3 = media_dir / "concat-tone.mp3"
    if not mp3.exists():
        make_tone(mp3, seconds=1)
    assets = [upload(alice_api, mp3), upload(alice_api, wav)]
    job = concat(alice_api, run_job, [a["id"] for a in assets])
    [output] = job["outputs"]
    info = probe(fetch_output(output))
    assert job["result"]["mode"] == "reencode"
    assert output["name"].endswith(".m4a") and output["kind"] == "audio"
    assert [(s["codec_name"], s["sample_rate"], s["channels"]) for s in info["streams"]] == [("aac", "48000", 2)]
    assert abs(float(info["format"]["duration"]) - sum(a["duration"] for a in assets)) <= TOLERANCE


# --- bad requests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 101])
def test_wrong_number_of_inputs_is_refused(alice_api, two_clips, count):
    response = submit(alice_api, [two_clips[0]["id"]] * count)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["inputs"]


def test_video_and_audio_cannot_be_mixed(alice_api, upload, two_clips, tone_path):
    tone = upload(alice_api, tone_path)
    response = submit(alice_api, [two_clips[0]["id"], tone["id"]])
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["inputs.1"] and tone["id"] in fields["inputs.1"][0]


INVALID = [
    pytest.param({"mode": "join"}, "params.mode", id="unknown-mode"),
    pytest.param({"width": 161}, "params.width", id="odd-width"),
    pytest.param({"mode": "copy", "height": 120}, "params.height", id="size-with-copy"),
    pytest.param({"mode": "copy", "preset": "fast"}, "params.preset", id="preset-with-copy"),
    pytest.param({"fps": 30}, "params.fps", id="unknown-field"),
]


@pytest.mark.parametrize(("params", "field"), INVALID)
def test_invalid_params_give_400_naming_the_field(alice_api, two_clips, params, field):
    response = submit(alice_api, [a["id"] for a in two_clips], params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field], error["fields"]


def test_audio_inputs_take_no_size(alice_api, upload, tone_path):
    tones = [upload(alice_api, tone_path)["id"]] * 2
    response = submit(alice_api, tones, {"width": 320})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["params.width"]


def test_catalog_lists_concat_with_its_params(alice_api):
    catalog = {op["name"]: op for op in alice_api.get("/api/v1/operations").json()["results"]}
    entry = catalog["concat"]
    assert entry["inputs"] == {"min": 2, "max": 100, "kinds": ["video", "audio"]}
    properties = entry["params_schema"]["properties"]
    assert set(properties) == {"mode", "width", "height", "preset"}
    assert properties["mode"]["enum"] == ["auto", "copy", "reencode"]


# --- the list file --------------------------------------------------------------------------------------


def test_quotes_in_list_paths_are_escaped():
    assert quote("/media/it's.mp3") == "'/media/it'\\''s.mp3'"
    with pytest.raises(ValueError):
        quote("/media/a\nfile '/etc/passwd'")


def run_list(listing: Path, output: Path) -> subprocess.CompletedProcess:
    """FFmpeg reading a list the way concat's copy mode does."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-protocol_whitelist", "file", "-format_whitelist", "concat"]
        + ["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_ffmpeg_reads_a_quoted_path_from_our_list(tmp_path, short_tone_path):
    odd = tmp_path / "it's a tone.mp3"
    odd.write_bytes(short_tone_path.read_bytes())
    listing = tmp_path / "list.ffconcat"
    listing.write_text(concat_list([odd, odd], SAFE_DEMUXERS))
    done = run_list(listing, tmp_path / "out.mp3")
    assert done.returncode == 0, done.stderr
    assert float(probe(tmp_path / "out.mp3")["format"]["duration"]) == pytest.approx(2.1, abs=TOLERANCE)


def test_a_listed_file_cannot_be_read_as_another_concat_list(tmp_path, short_tone_path):
    """The list itself is read as a concat script; the files it names only as plain media."""
    (tmp_path / "tone.mp3").write_bytes(short_tone_path.read_bytes())
    nested = tmp_path / "nested.mp3"
    nested.write_text("ffconcat version 1.0\nfile 'tone.mp3'\n")
    listing = tmp_path / "list.ffconcat"
    # Without the per-file allow-list, the inner file inherits the list's and is followed as a script.
    listing.write_text(f"ffconcat version 1.0\nfile {quote(str(nested))}\n")
    followed = run_list(listing, tmp_path / "followed.mp3")
    assert "tone.mp3" in followed.stderr, followed.stderr
    listing.write_text(concat_list([nested], SAFE_DEMUXERS))
    refused = run_list(listing, tmp_path / "out.mp3")
    assert refused.returncode != 0
    assert "not on whitelist" in refused.stderr and "tone.mp3" not in refused.stderr, refused.stderr
