"""analyze on generated clips whose black, cuts, silences, loudness, borders and field order are known."""

from pathlib import Path

import pytest

from jobs.operations.analyze import parse_black, parse_crop, parse_interlacing, parse_loudness, parse_scenes
from tests.media import ffmpeg, probe

SECTIONS = ("loudness", "scenes", "black", "silences", "interlacing", "crop")
VIDEO_SECTIONS = ("scenes", "black", "interlacing", "crop")
# Each toggle param → the result section it turns off.
TOGGLES = {
    "scenes": "scenes",
    "black": "black",
    "silence": "silences",
    "loudness": "loudness",
    "interlacing": "interlacing",
    "crop": "crop",
}


@pytest.fixture(scope="session")
def scenes_clip_path(media_dir) -> Path:
    """5 s, 320×240, 25 fps H.264 + mono AAC. Video: 1 s black, 2 s testsrc2, a hard cut at 3 s to 2 s of SMPTE
    bars. Audio: 2 s of sine, 1.5 s of silence (2–3.5 s), 1.5 s of sine.

    testsrc2 is drawn at 640×480 and scaled down: drawn at 320×240 its moving edges alias into what idet reads as
    combing (41 of 50 frames "TFF"); scaled down it reads as progressive. scdet scores the cut at 3 s 0.29 and the
    one at 1 s 0.41; motion inside the pattern stays under 0.01. FFmpeg's sine is 1/8 full scale: −18 dBFS peak,
    −21 dBFS RMS, which ebur128 measures at −22.2 LUFS integrated here."""
    path = media_dir / "analyze-scenes.mp4"
    if not path.exists():
        ffmpeg(
            *("-f", "lavfi", "-i", "color=c=black:size=320x240:rate=25:duration=1"),
            *("-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25:duration=2,scale=320:240"),
            *("-f", "lavfi", "-i", "smptebars=size=320x240:rate=25:duration=2"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"),
            *("-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono:d=1.5"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1.5"),
            "-filter_complex",
            "[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v];[3:a][4:a][5:a]concat=n=3:v=0:a=1[a]",
            *("-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac"),
            str(path),
        )
    return path


@pytest.fixture(scope="session")
def letterbox_path(media_dir) -> Path:
    """2 s of a 320×180 picture padded into 320×240 with 30 px black bars above and below; no audio."""
    path = media_dir / "analyze-letterbox.mp4"
    if not path.exists():
        ffmpeg(
            *("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2"),
            *("-vf", "scale=320:180,pad=320:240:0:30:black", "-c:v", "libx264", "-preset", "ultrafast"),
            *("-pix_fmt", "yuv420p", str(path)),
        )
    return path


def interlaced_clip(media_dir: Path, order: str) -> Path:
    """2 s at 25 fps whose frames weave two fields 1/50 s apart (top or bottom first), coded as interlaced."""
    path = media_dir / f"analyze-interlaced-{order}.mp4"
    if not path.exists():
        mode = "interleave_top" if order == "tff" else "interleave_bottom"
        ffmpeg(
            *("-f", "lavfi", "-i", "testsrc2=size=640x480:rate=50:duration=2"),
            *("-vf", f"scale=320:240,tinterlace=mode={mode},setfield={order}"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-flags", "+ildct+ilme", "-pix_fmt", "yuv420p"),
            *(["-x264-params", "bff=1"] if order == "bff" else []),
            str(path),
        )
    return path


@pytest.fixture(scope="session")
def gap_tone_path(media_dir) -> Path:
    """3 s MP3: 1 s of sine, 1 s of silence, 1 s of sine."""
    path = media_dir / "analyze-gap.mp3"
    if not path.exists():
        ffmpeg(
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1"),
            *("-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono:d=1"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1"),
            *("-filter_complex", "[0:a][1:a][2:a]concat=n=3:v=0:a=1", "-c:a", "libmp3lame", str(path)),
        )
    return path


def analyze(client, run_job, asset_id: str, params: dict | None = None) -> dict:
    body = {"operation": "analyze", "input": asset_id}
    if params is not None:
        body["params"] = params
    job = run_job(client, body)
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    assert job["outputs"] == []
    return job["result"]


@pytest.fixture
def scenes_clip(alice_api, upload, scenes_clip_path) -> dict:
    return upload(alice_api, scenes_clip_path)


# --- the canonical request on the known clip ---------------------------------------------------------------


def test_default_analysis_reports_every_section(alice_api, run_job, scenes_clip, scenes_clip_path):
    result = analyze(alice_api, run_job, scenes_clip["id"], {})
    info = probe(scenes_clip_path)

    assert result["duration"] == pytest.approx(5.0, abs=0.05)
    assert result["format"] == {
        "name": info["format"]["format_name"],
        "bit_rate": int(info["format"]["bit_rate"]),
        "size": scenes_clip_path.stat().st_size,
    }
    video, audio = result["streams"]
    assert (video["type"], video["codec"], video["width"], video["height"]) == ("video", "h264", 320, 240)
    assert (video["fps"], video["pix_fmt"], video["profile"]) == (25.0, "yuv420p", info["streams"][0]["profile"])
    assert video["bit_rate"] > 0
    assert (audio["type"], audio["codec"], audio["sample_rate"], audio["channels"]) == ("audio", "aac", 48000, 1)
    assert audio["language"] == info["streams"][1]["tags"]["language"]
    assert set(SECTIONS) <= set(result)


def test_black_opening_second_is_one_segment(alice_api, run_job, scenes_clip):
    [black] = analyze(alice_api, run_job, scenes_clip["id"])["black"]
    assert black["start"] == pytest.approx(0, abs=0.05)
    assert black["end"] == pytest.approx(1, abs=0.05)
    assert black["duration"] == pytest.approx(1, abs=0.05)


def test_hard_cuts_are_scenes_with_their_scores(alice_api, run_job, scenes_clip):
    scenes = analyze(alice_api, run_job, scenes_clip["id"])["scenes"]
    # black → test pattern at 1 s, test pattern → bars at 3 s; motion inside the pattern is no cut.
    assert [round(scene["time"]) for scene in scenes] == [1, 3], scenes
    [cut] = [scene for scene in scenes if abs(scene["time"] - 3.0) <= 0.2]
    assert 0.2 <= cut["score"] <= 0.35, cut


@pytest.mark.parametrize(("threshold", "cuts"), [(0.35, [1]), (0.5, [])])
def test_scene_threshold_reaches_the_detector(alice_api, run_job, scenes_clip, threshold, cuts):
    # The cut at 1 s scores about 0.41, the one at 3 s about 0.29.
    scenes = analyze(alice_api, run_job, scenes_clip["id"], {"scene_threshold": threshold})["scenes"]
    assert [round(scene["time"]) for scene in scenes] == cuts, scenes


def test_silence_in_the_middle_is_found(alice_api, run_job, scenes_clip):
    [silence] = analyze(alice_api, run_job, scenes_clip["id"])["silences"]
    assert silence["start"] == pytest.approx(2.0, abs=0.2)
    assert silence["end"] == pytest.approx(3.5, abs=0.2)
    assert silence["duration"] == pytest.approx(1.5, abs=0.2)


def test_loudness_of_the_sine_is_measured(alice_api, run_job, scenes_clip):
    loudness = analyze(alice_api, run_job, scenes_clip["id"])["loudness"]
    # Sine at −21 dBFS RMS, mono: about −21.8 LUFS by the formula, −22.2 measured through AAC (silence is gated).
    assert -23.5 <= loudness["integrated"] <= -20.5, loudness
    # Sample peak is −18 dBFS; AAC's ringing at the abrupt starts and stops lifts the true peak a little.
    assert -18.5 <= loudness["true_peak"] <= -14, loudness
    assert 0 <= loudness["range"] <= 5, loudness


def test_progressive_clip_is_progressive_and_full_frame(alice_api, run_job, scenes_clip):
    result = analyze(alice_api, run_job, scenes_clip["id"])
    interlacing = result["interlacing"]
    assert interlacing["verdict"] == "progressive"
    assert interlacing["progressive"] > interlacing["tff"] + interlacing["bff"]
    assert sum(interlacing[key] for key in ("tff", "bff", "progressive", "undetermined")) == 125
    assert result["crop"] == {"width": 320, "height": 240, "x": 0, "y": 0, "differs": False}


@pytest.mark.parametrize("order", ["tff", "bff"])
def test_interlaced_clip_gets_its_field_order(alice_api, upload, run_job, media_dir, order):
    asset = upload(alice_api, interlaced_clip(media_dir, order))
    interlacing = analyze(alice_api, run_job, asset["id"], {"scenes": False, "black": False, "crop": False})
    interlacing = interlacing["interlacing"]
    assert interlacing["verdict"] == order
    assert interlacing[order] > 40


def test_letterboxed_clip_gets_a_crop_without_the_bars(alice_api, upload, run_job, letterbox_path):
    asset = upload(alice_api, letterbox_path)
    crop = analyze(alice_api, run_job, asset["id"])["crop"]
    assert crop["width"] == pytest.approx(320, abs=8)
    assert crop["height"] == pytest.approx(180, abs=8)
    assert crop["x"] == pytest.approx(0, abs=8)
    assert crop["y"] == pytest.approx(30, abs=8)
    assert crop["differs"] is True


# --- inputs with one kind of stream ------------------------------------------------------------------------


def test_audio_only_input_gets_audio_sections_only(alice_api, upload, run_job, gap_tone_path):
    asset = upload(alice_api, gap_tone_path)
    assert asset["kind"] == "audio"
    result = analyze(alice_api, run_job, asset["id"], {})
    assert [stream["type"] for stream in result["streams"]] == ["audio"]
    assert all(result[section] is None for section in VIDEO_SECTIONS), result
    assert -24 <= result["loudness"]["integrated"] <= -19
    [silence] = result["silences"]
    assert silence["start"] == pytest.approx(1.0, abs=0.2)
    assert silence["end"] == pytest.approx(2.0, abs=0.2)


def test_video_without_audio_has_no_audio_sections(alice_api, upload, run_job, silent_clip_path):
    asset = upload(alice_api, silent_clip_path)
    result = analyze(alice_api, run_job, asset["id"], {})
    assert result["loudness"] is None and result["silences"] is None
    assert [stream["type"] for stream in result["streams"]] == ["video"]
    assert result["black"] == [] and result["crop"]["differs"] is False
    assert result["interlacing"]["verdict"] and isinstance(result["scenes"], list)


@pytest.mark.parametrize("toggle", list(TOGGLES))
def test_a_part_turned_off_is_null_and_the_rest_measured(alice_api, run_job, scenes_clip, toggle):
    result = analyze(alice_api, run_job, scenes_clip["id"], {toggle: False})
    assert result[TOGGLES[toggle]] is None
    assert all(result[section] is not None for section in SECTIONS if section != TOGGLES[toggle]), result


def test_everything_off_gives_the_probe_facts(alice_api, run_job, scenes_clip):
    result = analyze(alice_api, run_job, scenes_clip["id"], dict.fromkeys(TOGGLES, False))
    assert all(result[section] is None for section in SECTIONS)
    assert len(result["streams"]) == 2 and result["duration"] == pytest.approx(5.0, abs=0.05)


# --- the catalog and bad requests --------------------------------------------------------------------------


def test_analyze_is_in_the_catalog_with_its_params(alice_api):
    catalog = {op["name"]: op for op in alice_api.get("/api/v1/operations").json()["results"]}
    entry = catalog["analyze"]
    assert entry["inputs"] == {"min": 1, "max": 1, "kinds": ["video", "audio"]}
    properties = entry["params_schema"]["properties"]
    assert set(TOGGLES) | {"scene_threshold", "black_min_duration", "silence_noise_db"} <= set(properties)
    assert properties["scene_threshold"]["default"] == 0.1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"scene_threshold": 1.5}, "params.scene_threshold"),
        ({"scene_threshold": 0}, "params.scene_threshold"),
        ({"silence_noise_db": 5}, "params.silence_noise_db"),
        ({"black_min_duration": 0}, "params.black_min_duration"),
        ({"silence_min_duration": -1}, "params.silence_min_duration"),
        ({"crop": "maybe"}, "params.crop"),
        ({"loudnes": False}, "params.loudnes"),
    ],
)
def test_bad_params_give_400_naming_the_field(alice_api, scenes_clip, params, field):
    response = alice_api.post(
        "/api/v1/jobs", {"operation": "analyze", "input": scenes_clip["id"], "params": params}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field]


def test_a_file_that_is_not_media_is_refused(alice_api, upload, random_bytes_path):
    asset = upload(alice_api, random_bytes_path)
    response = alice_api.post("/api/v1/jobs", {"operation": "analyze", "input": asset["id"]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["inputs.0"]


# --- reading FFmpeg's log ----------------------------------------------------------------------------------

LOG = [
    "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '/data/crop=8:8:0:0 black_start:5 black_end:6 black_duration:1.mp4':",
    "    title           : lavfi.scd.score: 99.0, lavfi.scd.time: 7",
    "[Parsed_ebur128_6 @ 0x55bbcdba4640] Summary:",
    "",
    "  Integrated loudness:",
    "    I:         -70.0 LUFS",
    "  True peak:",
    "    Peak:       -inf dBFS",
    "[Parsed_idet_0 @ 0x55bbcdba7600] Multi frame detection: TFF:     0 BFF:     0 Progressive:     0 Undetermined:  0",
    "[blackdetect @ 0x55bbcdfd8e00] black_start:0 black_end:1.04 black_duration:1.04",
    "[blackdetect @ 0x55bbcdfd8e00] black_start:nan black_end:2 black_duration:x",
    "[scdet @ 0x55bbcdfda1c0] lavfi.scd.score: 41.427, lavfi.scd.time: 3",
    "[Parsed_cropdetect_1 @ 0x55d1] x1:319 x2:0 y1:239 y2:0 w:-318 h:-238 x:320 y:240 t:0.04 crop=-318:-238:320:240",
    "[Parsed_cropdetect_1 @ 0x55d1] x1:0 x2:319 y1:30 y2:209 w:320 h:180 x:0 y:30 pts:2 t:0.08 crop=320:180:0:30",
    "[Parsed_idet_0 @ 0x55bb] Multi frame detection: TFF:    38 BFF:     0 Progressive:    63 Undetermined:    24",
    "[Parsed_ebur128_6 @ 0x55bbcdfdaec0] Summary:",
    "",
    "  Integrated loudness:",
    "    I:         -22.2 LUFS",
    "    Threshold: -32.3 LUFS",
    "  Loudness range:",
    "    LRA:         1.0 LU",
    "    LRA low:   -24.8 LUFS",
    "  True peak:",
    "    Peak:      -16.1 dBFS",
]


def test_log_parsing_reads_only_filter_lines_and_the_last_summaries():
    assert parse_black(LOG) == [{"start": 0.0, "end": 1.04, "duration": 1.04}]
    assert parse_scenes(LOG) == [{"time": 3.0, "score": 0.4143}]
    assert parse_crop(LOG, 320, 240) == {"width": 320, "height": 180, "x": 0, "y": 30, "differs": True}
    assert parse_interlacing(LOG) == {
        "tff": 38,
        "bff": 0,
        "progressive": 63,
        "undetermined": 24,
        "verdict": "progressive",
    }
    assert parse_loudness(LOG) == {"integrated": -22.2, "range": 1.0, "true_peak": -16.1}
    assert parse_loudness(LOG[:9]) == {"integrated": -70.0, "range": None, "true_peak": None}
