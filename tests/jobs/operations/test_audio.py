"""audio on generated media: formats, rates, channels, trims, gain, fades, two-pass loudness normalisation
(checked with FFmpeg's own ebur128 meter on the output), the waveform picture and bad requests."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.media import ffmpeg, probe


@pytest.fixture(scope="session")
def varying_path(media_dir) -> Path:
    """5 s stereo 44.1 kHz WAV: a 440 Hz tone mixed with pink noise whose level swells and falls (≈ -31 LUFS)."""
    path = media_dir / "varying.wav"
    if not path.exists():
        ffmpeg(
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=5",
            "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.5:sample_rate=44100:duration=5:seed=7",
            "-filter_complex",
            "[0][1]amix=inputs=2,volume='0.25+0.2*sin(2*PI*t/2.5)':eval=frame,pan=stereo|c0=c0|c1=c0",
            "-c:a", "pcm_s16le", str(path),
        )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def silence_path(media_dir) -> Path:
    path = media_dir / "silence.wav"
    if not path.exists():
        ffmpeg("-f", "lavfi", "-i", "anullsrc=sample_rate=48000:channel_layout=mono:d=3", str(path))
    return path


def ebur128(path: Path) -> dict[str, float]:
    """Integrated loudness (I), loudness range (LRA) and true peak (Peak) of a file, from ebur128's summary."""
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true:framelog=verbose"]
        + ["-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = done.stderr[done.stderr.rindex("Summary:") :]
    return {key: float(re.search(rf"{key}:\s+(-?[0-9.]+)", summary)[1]) for key in ("I", "LRA", "Peak")}


def mean_volume(path: Path, start: float, length: float) -> float:
    """RMS level in dBFS of `length` seconds from `start`."""
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af"]
        + [f"atrim=start={start}:duration={length},volumedetect", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.search(r"mean_volume: (-?[0-9.]+|-inf) dB", done.stderr)[1])


def audio_stream(path: Path) -> dict:
    [stream] = [s for s in probe(path)["streams"] if s["codec_type"] == "audio"]
    return stream


def run_audio(client, run_job, asset_id: str, params: dict, outputs: int = 1) -> dict:
    job = run_job(client, {"operation": "audio", "input": asset_id, "params": params})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    assert len(job["outputs"]) == outputs, job["outputs"]
    return job


@pytest.fixture
def alice_varying(alice_api, upload, varying_path) -> dict:
    return upload(alice_api, varying_path)


# --- formats, rates, channels ---------------------------------------------------------------------------

FORMATS = [
    # The clip's audio is mono AAC at 48 kHz.
    pytest.param({"format": "mp3"}, "clip.mp3", "mp3", "mp3", 48000, 1, id="mp3-keeps-source-rate"),
    pytest.param(
        {"format": "aac", "sample_rate": 44100, "channels": 2}, "clip.m4a", "mov,mp4", "aac", 44100, 2, id="aac-m4a"
    ),
    pytest.param({"format": "opus", "channels": 2}, "clip.opus", "ogg", "opus", 48000, 2, id="opus-ogg"),
    pytest.param({"format": "wav", "sample_rate": 16000}, "clip.wav", "wav", "pcm_s16le", 16000, 1, id="wav-16k"),
    pytest.param({"format": "flac", "sample_rate": 96000}, "clip.flac", "flac", "flac", 96000, 1, id="flac-96k"),
    pytest.param({"format": "mp3", "sample_rate": 22050}, "clip.mp3", "mp3", "mp3", 22050, 1, id="mp3-22k"),
]


@pytest.mark.parametrize(("params", "name", "container", "codec", "rate", "channels"), FORMATS)
def test_format_gives_audio_file_with_asked_codec_rate_and_channels(
    alice_api, run_job, fetch_output, alice_clip, params, name, container, codec, rate, channels
):
    job = run_audio(alice_api, run_job, alice_clip["id"], params)
    [output] = job["outputs"]
    path = fetch_output(output)
    info = probe(path)
    assert info["format"]["format_name"].startswith(container)
    assert [s["codec_type"] for s in info["streams"]] == ["audio"]
    stream = audio_stream(path)
    assert (stream["codec_name"], int(stream["sample_rate"]), stream["channels"]) == (codec, rate, channels)
    assert output["name"] == name
    assert (output["kind"], output["audio_codec"], output["video_codec"]) == ("audio", codec, "")
    # Encoder delay and frame padding (mp3, aac) add a few tens of milliseconds at most.
    assert abs(float(info["format"]["duration"]) - 2.0) <= 0.08
    assert job["result"] == {"format": params["format"], "sample_rate": rate, "channels": channels}


def test_source_rate_the_format_cannot_write_goes_to_the_next_rate_up(alice_api, run_job, fetch_output, alice_varying):
    # 44.1 kHz cannot be Opus: it becomes 48 kHz without being asked.
    job = run_audio(alice_api, run_job, alice_varying["id"], {"format": "opus"})
    assert int(audio_stream(fetch_output(job["outputs"][0]))["sample_rate"]) == 48000


@pytest.mark.parametrize(("bitrate", "expected"), [("64k", 64000), ("256k", 256000)])
def test_bitrate_reaches_the_encoder(alice_api, run_job, fetch_output, alice_varying, bitrate, expected):
    job = run_audio(alice_api, run_job, alice_varying["id"], {"format": "mp3", "bitrate": bitrate})
    stream = audio_stream(fetch_output(job["outputs"][0]))
    assert int(stream["bit_rate"]) == expected


def test_audio_file_input_is_accepted(alice_api, upload, run_job, fetch_output, tone_path):
    asset = upload(alice_api, tone_path)
    assert asset["kind"] == "audio"
    job = run_audio(alice_api, run_job, asset["id"], {"format": "flac"})
    assert audio_stream(fetch_output(job["outputs"][0]))["codec_name"] == "flac"


# --- trim, gain, fades ----------------------------------------------------------------------------------


def test_start_and_end_cut_the_audio(alice_api, run_job, fetch_output, alice_varying):
    job = run_audio(alice_api, run_job, alice_varying["id"], {"format": "wav", "start": 1.25, "end": 3.75})
    path = fetch_output(job["outputs"][0])
    assert float(probe(path)["format"]["duration"]) == pytest.approx(2.5, abs=0.001)


def test_volume_plus_6_db_raises_the_level_by_6_db(alice_api, run_job, fetch_output, alice_varying):
    plain = fetch_output(run_audio(alice_api, run_job, alice_varying["id"], {"format": "wav"})["outputs"][0])
    louder = fetch_output(
        run_audio(alice_api, run_job, alice_varying["id"], {"format": "wav", "volume": 6})["outputs"][0]
    )
    assert ebur128(louder)["I"] - ebur128(plain)["I"] == pytest.approx(6, abs=0.3)


def test_fades_make_the_ends_much_quieter_than_the_middle(alice_api, run_job, fetch_output, alice_clip):
    plain = fetch_output(run_audio(alice_api, run_job, alice_clip["id"], {"format": "wav"})["outputs"][0])
    faded = fetch_output(
        run_audio(alice_api, run_job, alice_clip["id"], {"format": "wav", "fade_in": 1, "fade_out": 0.5})["outputs"][0]
    )
    middle = mean_volume(faded, 1.0, 0.5)
    assert mean_volume(plain, 1.0, 0.5) == pytest.approx(middle, abs=0.5)  # the fades leave the middle alone
    assert mean_volume(plain, 0, 0.1) == pytest.approx(middle, abs=1)  # the steady tone is as loud at the ends
    assert mean_volume(faded, 0, 0.1) < middle - 20
    assert mean_volume(faded, 1.9, 0.1) < middle - 12
    assert mean_volume(faded, 0.5, 0.1) == pytest.approx(middle - 6, abs=1.5)  # halfway up a linear fade-in


def test_fades_start_and_end_at_the_cut_not_at_the_source(alice_api, run_job, fetch_output, alice_clip):
    params = {"format": "wav", "start": 0.6, "end": 1.6, "fade_in": 0.3, "fade_out": 0.3}
    faded = fetch_output(run_audio(alice_api, run_job, alice_clip["id"], params)["outputs"][0])
    middle = mean_volume(faded, 0.4, 0.2)
    assert mean_volume(faded, 0, 0.03) < middle - 15
    assert mean_volume(faded, 0.97, 0.03) < middle - 15


def test_fades_longer_than_the_output_fail_the_job(alice_api, run_job, alice_clip):
    job = run_job(
        alice_api, {"operation": "audio", "input": alice_clip["id"], "params": {"fade_in": 1.5, "fade_out": 1}}
    )
    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid_fade"
    assert job["outputs"] == []


# --- loudness normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "target"), [("mp3", -16), ("aac", -23), ("wav", -23), ("opus", -16)])
def test_target_lufs_normalises_the_output_to_the_target(
    alice_api, run_job, fetch_output, alice_varying, varying_path, fmt, target
):
    source = ebur128(varying_path)
    assert abs(source["I"] - target) > 5  # the source is far from the target: a no-op cannot pass

    job = run_audio(alice_api, run_job, alice_varying["id"], {"format": fmt, "target_lufs": target})
    path = fetch_output(job["outputs"][0])
    measured = ebur128(path)
    assert measured["I"] == pytest.approx(target, abs=1)
    assert measured["Peak"] <= -1.5 + 0.5  # the default true-peak ceiling, with a little encoder overshoot
    assert int(audio_stream(path)["sample_rate"]) == (48000 if fmt == "opus" else 44100)  # not loudnorm's 192k

    loudness = job["result"]["loudness"]
    assert loudness["output_i"] == pytest.approx(measured["I"], abs=0.15)  # measured on the file written
    assert loudness["output_tp"] == pytest.approx(measured["Peak"], abs=0.15)
    assert loudness["input_i"] == pytest.approx(source["I"], abs=1)
    assert loudness["input_tp"] == pytest.approx(source["Peak"], abs=0.5)
    for key in ("input_lra", "input_thresh", "output_lra", "output_thresh"):
        assert isinstance(loudness[key], float), key
    assert loudness["normalization"] in ("linear", "dynamic")


def test_canonical_example_mp3_at_minus_16_lufs(alice_api, run_job, fetch_output, alice_varying):
    job = run_audio(alice_api, run_job, alice_varying["id"], {"format": "mp3", "target_lufs": -16})
    [output] = job["outputs"]
    assert output["audio_codec"] == "mp3" and output["name"] == "varying.mp3"
    assert ebur128(fetch_output(output))["I"] == pytest.approx(-16, abs=1)
    assert job["result"]["loudness"]["output_i"] == pytest.approx(-16, abs=1)
    assert job["result"]["loudness"]["normalization"] == "linear"  # quiet, peak-free input: a plain gain


def test_true_peak_ceiling_is_kept(alice_api, run_job, fetch_output, alice_varying):
    params = {"format": "wav", "target_lufs": -10, "true_peak": -6}
    job = run_audio(alice_api, run_job, alice_varying["id"], params)
    assert ebur128(fetch_output(job["outputs"][0]))["Peak"] <= -6 + 0.3


def test_target_lufs_with_trim_and_fades(alice_api, run_job, fetch_output, alice_varying):
    params = {"format": "flac", "target_lufs": -20, "start": 0.5, "end": 4.5, "fade_in": 0.5, "fade_out": 0.5}
    job = run_audio(alice_api, run_job, alice_varying["id"], params)
    path = fetch_output(job["outputs"][0])
    assert float(probe(path)["format"]["duration"]) == pytest.approx(4.0, abs=0.001)
    assert ebur128(path)["I"] == pytest.approx(-20, abs=1)


def test_silent_input_cannot_be_normalised(alice_api, upload, run_job, silence_path):
    asset = upload(alice_api, silence_path)
    job = run_job(alice_api, {"operation": "audio", "input": asset["id"], "params": {"target_lufs": -16}})
    assert job["status"] == "failed"
    assert job["error"]["code"] == "silent_audio"


def test_progress_is_reported_per_pass(alice_api, run_job, alice_varying):
    from jobs.models import Job

    stages = []
    original = Job.heartbeat

    def recording(self, **kwargs):
        stages.append((kwargs.get("stage"), kwargs.get("progress")))
        return original(self, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Job, "heartbeat", recording)
        run_audio(alice_api, run_job, alice_varying["id"], {"target_lufs": -16})
    assert ("measuring", 0.0) in stages
    assert ("encoding", 45.0) in stages
    assert ("verifying", 95.0) in stages
    progress = [p for _, p in stages if p is not None]
    assert progress == sorted(progress) and max(progress) <= 99


# --- waveform -------------------------------------------------------------------------------------------


def test_waveform_gives_a_png_of_the_asked_size_and_color(alice_api, run_job, fetch_output, alice_varying):
    params = {"format": "mp3", "target_lufs": -16, "waveform": True, "waveform_width": 400, "waveform_height": 100}
    job = run_audio(alice_api, run_job, alice_varying["id"], {**params, "waveform_color": "#ff0000"}, outputs=2)
    outputs = {output["kind"]: output for output in job["outputs"]}
    assert outputs["audio"]["name"] == "varying.mp3"
    picture = outputs["image"]
    assert (picture["name"], picture["kind"], picture["width"], picture["height"]) == (
        "varying-waveform.png",
        "image",
        400,
        100,
    )
    path = fetch_output(picture)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgba", "-"],
        capture_output=True,
        check=True,
    ).stdout
    drawn = [pixels[i : i + 4] for i in range(0, len(pixels), 4) if pixels[i + 3] > 0]
    assert len(drawn) > 400 * 100 * 0.2  # a real waveform of the -16 LUFS audio, not an empty picture
    assert {bytes(p) for p in drawn} == {b"\xff\x00\x00\xff"}  # in the asked colour


# --- inputs and bad requests ----------------------------------------------------------------------------


def test_video_without_audio_is_refused_at_submit(alice_api, upload, silent_clip_path):
    from jobs.models import Job

    asset = upload(alice_api, silent_clip_path)
    response = alice_api.post("/api/v1/jobs", {"operation": "audio", "input": asset["id"]}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["inputs.0"]
    assert "no audio" in error["fields"]["inputs.0"][0]
    assert not Job.objects.exists()


INVALID = [
    pytest.param({"format": "ogg"}, "params.format", id="unknown-format"),
    pytest.param({"format": "wav", "bitrate": "128k"}, "params.bitrate", id="bitrate-with-wav"),
    pytest.param({"format": "flac", "bitrate": "128k"}, "params.bitrate", id="bitrate-with-flac"),
    pytest.param({"format": "mp3", "bitrate": "1000k"}, "params.bitrate", id="bitrate-too-high-for-mp3"),
    pytest.param({"bitrate": "loud"}, "params.bitrate", id="bitrate-not-a-rate"),
    pytest.param({"sample_rate": 44000}, "params.sample_rate", id="rate-not-in-list"),
    pytest.param({"format": "mp3", "sample_rate": 96000}, "params.sample_rate", id="rate-mp3-cannot-write"),
    pytest.param({"format": "opus", "sample_rate": 44100}, "params.sample_rate", id="rate-opus-cannot-write"),
    pytest.param({"channels": 6}, "params.channels", id="six-channels"),
    pytest.param({"volume": 30}, "params.volume", id="volume-too-loud"),
    pytest.param({"volume": -61}, "params.volume", id="volume-too-quiet"),
    pytest.param({"target_lufs": -4}, "params.target_lufs", id="target-above-range"),
    pytest.param({"target_lufs": -71}, "params.target_lufs", id="target-below-range"),
    pytest.param({"target_lufs": -16, "true_peak": 1}, "params.true_peak", id="true-peak-above-0"),
    pytest.param({"true_peak": -2}, "params.true_peak", id="true-peak-without-target"),
    pytest.param({"lra": 7}, "params.lra", id="lra-without-target"),
    pytest.param({"target_lufs": -16, "volume": 3}, "params.volume", id="volume-and-target"),
    pytest.param({"fade_in": 0}, "params.fade_in", id="zero-fade"),
    pytest.param({"start": 2, "end": 1}, "params.end", id="end-before-start"),
    pytest.param({"waveform_width": 400}, "params.waveform_width", id="waveform-size-without-waveform"),
    pytest.param({"waveform": True, "waveform_height": 10}, "params.waveform_height", id="waveform-too-small"),
    pytest.param({"waveform": True, "waveform_color": "red:s=9x9"}, "params.waveform_color", id="color-not-hex"),
    pytest.param({"speed": 2}, "params.speed", id="unknown-field"),
]


@pytest.mark.parametrize(("params", "field"), INVALID)
def test_invalid_params_give_400_naming_the_field(alice_api, alice_clip, params, field):
    from jobs.models import Job

    response = alice_api.post(
        "/api/v1/jobs", {"operation": "audio", "input": alice_clip["id"], "params": params}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field], error["fields"]
    assert all(isinstance(message, str) and message for message in error["fields"][field])
    assert not Job.objects.exists()


def test_catalog_lists_audio_with_its_params(alice_api):
    operations = {op["name"]: op for op in alice_api.get("/api/v1/operations").json()["results"]}
    audio = operations["audio"]
    assert audio["inputs"] == {"min": 1, "max": 1, "kinds": ["video", "audio"]}
    properties = audio["params_schema"]["properties"]
    assert {"format", "sample_rate", "channels", "bitrate", "target_lufs", "true_peak", "lra", "waveform"} <= set(
        properties
    )
    assert set(properties["format"]["enum"]) == {"mp3", "aac", "opus", "wav", "flac"}
