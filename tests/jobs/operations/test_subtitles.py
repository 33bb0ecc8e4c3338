"""subtitles on a generated black clip: burnt-in cues show up as bright pixels only while they run; soft
tracks have the container's subtitle codec and language, with the video stream copied bit for bit."""

import subprocess
from pathlib import Path

import pytest

from tests.media import ffmpeg, make_clip, probe, streams

SIZE = (320, 240)
FRAME = 1 / 25 + 1e-6
CUE_TIMES = (0.5, 1.2)  # inside the first and the second cue
QUIET_TIME = 1.8  # after both

SRT = """1
00:00:00,300 --> 00:00:00,800
FIRST CUE

2
00:00:01,000 --> 00:00:01,500
SECOND, 'quoted' [cue]
"""

VTT = """WEBVTT

00:00:00.300 --> 00:00:00.800
FIRST CUE

00:00:01.000 --> 00:00:01.500
SECOND CUE
"""

# Its own style: big yellow text at the top centre (numpad alignment 8), on a canvas the size of the clip.
ASS = r"""[Script Info]
ScriptType: v4.00+
PlayResX: 320
PlayResY: 240

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Top,DejaVu Sans,32,&H0000FFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,0,8,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.30,0:00:00.80,Top,,0,0,0,,{\b1}FIRST CUE
Dialogue: 0,0:00:01.00,0:00:01.50,Top,,0,0,0,,SECOND CUE
"""  # noqa: E501


@pytest.fixture(scope="session")
def black_clip_path(media_dir) -> Path:
    """2 s, 320×240 black H.264 + AAC."""
    path = media_dir / "black.mp4"
    if not path.exists():
        ffmpeg(
            *("-f", "lavfi", "-i", f"color=c=black:s={SIZE[0]}x{SIZE[1]}:rate=25:d=2"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"),
            str(path),
        )
    return path


@pytest.fixture(scope="session")
def odd_clip_path(media_dir) -> Path:
    """2 s, 161×121 (odd sizes) H.264 in MKV, no audio."""
    return make_clip(media_dir / "odd.mkv", size="161x121", audio=False)


@pytest.fixture(scope="session")
def subtitle_files(media_dir) -> dict[str, Path]:
    files = {}
    for ext, text in (("srt", SRT), ("vtt", VTT), ("ass", ASS)):
        files[ext] = media_dir / f"cues.{ext}"
        files[ext].write_text(text, encoding="utf-8")
    return files


@pytest.fixture
def black_clip(alice_api, upload, black_clip_path) -> dict:
    return upload(alice_api, black_clip_path)


@pytest.fixture
def srt(alice_api, upload, subtitle_files) -> dict:
    return upload(alice_api, subtitle_files["srt"])


def submit(client, asset_id: str, params: dict):
    return client.post("/api/v1/jobs", {"operation": "subtitles", "input": asset_id, "params": params}, format="json")


def subtitles(client, run_job, asset_id: str, params: dict) -> dict:
    job = run_job(client, {"operation": "subtitles", "input": asset_id, "params": params})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    assert len(job["outputs"]) == 1
    return job


def gray_rows(path: Path, at: float, size=SIZE) -> list[bytes]:
    """The frame at `at` seconds as rows of 8-bit luma."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    )
    width, height = size
    assert len(done.stdout) == width * height
    return [done.stdout[row * width : (row + 1) * width] for row in range(height)]


def bright(rows: list[bytes], threshold: int = 150) -> int:
    return sum(value > threshold for row in rows for value in row)


def top(rows):
    return rows[: len(rows) // 3]


def bottom(rows):
    return rows[-len(rows) // 3 :]


def video_packets(path: Path) -> str:
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "hash", "-hash", "md5", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


# --- catalog and validation -------------------------------------------------------------------------------


def test_catalog_lists_subtitles_with_its_asset_param_and_schema(alice_api):
    [entry] = [op for op in alice_api.get("/api/v1/operations").json()["results"] if op["name"] == "subtitles"]
    assert entry["asset_params"] == {"subtitles": ["subtitle"]}
    assert entry["inputs"]["kinds"] == ["video"]
    properties = entry["params_schema"]["properties"]
    assert {"subtitles", "mode", "format", "language", "style", "preset"} <= set(properties)
    assert entry["params_schema"]["required"] == ["subtitles"]


def test_a_non_subtitle_asset_as_subtitles_is_refused(alice_api, black_clip):
    response = submit(alice_api, black_clip["id"], {"subtitles": black_clip["id"]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"] == {"params.subtitles": [f"{black_clip['id']} is video, subtitles needs subtitle."]}


def test_subtitles_of_another_user_are_not_found(alice_api, bob_api, upload, black_clip, subtitle_files):
    bobs = upload(bob_api, subtitle_files["srt"])
    response = submit(alice_api, black_clip["id"], {"subtitles": bobs["id"]})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"params.subtitles": [f"No asset {bobs['id']}."]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"mode": "soft", "style": {"font_size": 20}}, "params.style"),
        ({"mode": "burn", "language": "eng"}, "params.language"),
        ({"mode": "soft", "language": "english"}, "params.language"),
        ({"mode": "soft", "language": "EN"}, "params.language"),
        ({"style": {"font_color": "red"}}, "params.style.font_color"),
        ({"style": {"font_color": "#FFF'; x"}}, "params.style.font_color"),
        ({"style": {"font_size": 1000}}, "params.style.font_size"),
        ({"style": {"raw": "FontSize=9"}}, "params.style.raw"),
        ({"mode": "karaoke"}, "params.mode"),
        ({"format": "avi"}, "params.format"),
    ],
)
def test_bad_params_are_400_naming_the_field(alice_api, black_clip, srt, params, field):
    response = submit(alice_api, black_clip["id"], {"subtitles": srt["id"], **params})
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == [field]


def test_subtitles_param_is_required(alice_api, black_clip):
    response = submit(alice_api, black_clip["id"], {"mode": "burn"})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["params.subtitles"]


# --- burn -------------------------------------------------------------------------------------------------


def test_burn_srt_draws_each_cue_only_while_it_runs(alice_api, run_job, fetch_output, black_clip, srt):
    job = subtitles(alice_api, run_job, black_clip["id"], {"subtitles": srt["id"], "preset": "ultrafast"})
    output = job["outputs"][0]
    path = fetch_output(output)
    assert output["name"] == "black.mp4"
    assert job["result"] == {"mode": "burn", "subtitle_format": "srt", "video_codec": "h264", "audio_codec": "copy"}
    for at in CUE_TIMES:
        rows = gray_rows(path, at)
        assert bright(bottom(rows)) > 20, at
        assert bright(top(rows)) == 0, at
    assert bright(gray_rows(path, QUIET_TIME)) == 0
    assert bright(gray_rows(path, 0.1)) == 0
    info = probe(path)
    assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]
    assert abs(float(info["format"]["duration"]) - 2.0) <= FRAME


def test_burn_style_moves_and_colours_the_text(alice_api, run_job, fetch_output, black_clip, srt):
    style = {"position": "top", "font_size": 40, "font_color": "#FFFF00", "outline": 0}
    job = subtitles(alice_api, run_job, black_clip["id"], {"subtitles": srt["id"], "style": style})
    rows = gray_rows(fetch_output(job["outputs"][0]), CUE_TIMES[0])
    assert bright(top(rows), 120) > 400  # 40 px yellow letters
    assert bright(bottom(rows), 40) == 0
    plain = subtitles(alice_api, run_job, black_clip["id"], {"subtitles": srt["id"]})
    assert bright(top(rows), 120) > 4 * bright(gray_rows(fetch_output(plain["outputs"][0]), CUE_TIMES[0]), 120)


def test_burn_box_fills_a_rectangle_behind_the_text(alice_api, run_job, fetch_output, black_clip, srt):
    style = {"box": True, "outline_color": "#FFFFFF", "font_color": "#000000", "font_size": 24}
    job = subtitles(alice_api, run_job, black_clip["id"], {"subtitles": srt["id"], "style": style})
    rows = bottom(gray_rows(fetch_output(job["outputs"][0]), CUE_TIMES[0]))
    # A white box roughly 24+ px high and ~130 px wide: far more bright pixels than letters alone would give.
    assert bright(rows, 200) > 2000


def test_burn_webvtt(alice_api, upload, run_job, fetch_output, black_clip, subtitle_files):
    vtt = upload(alice_api, subtitle_files["vtt"])
    assert vtt["kind"] == "subtitle"
    job = subtitles(alice_api, run_job, black_clip["id"], {"subtitles": vtt["id"], "format": "mkv"})
    assert job["result"]["subtitle_format"] == "webvtt"
    path = fetch_output(job["outputs"][0])
    assert bright(bottom(gray_rows(path, CUE_TIMES[1]))) > 20
    assert bright(gray_rows(path, QUIET_TIME)) == 0


def test_burn_ass_keeps_its_own_styles(alice_api, upload, run_job, fetch_output, black_clip, subtitle_files):
    ass = upload(alice_api, subtitle_files["ass"])
    job = subtitles(alice_api, run_job, black_clip["id"], {"subtitles": ass["id"], "format": "webm"})
    assert job["result"]["audio_codec"] == "opus"
    path = fetch_output(job["outputs"][0])
    rows = gray_rows(path, CUE_TIMES[0])
    assert bright(top(rows), 120) > 300  # the file's style: large, yellow, top centre
    assert bright(bottom(rows), 40) == 0
    assert bright(gray_rows(path, QUIET_TIME)) == 0
    assert [s["codec_name"] for s in probe(path)["streams"]] == ["vp9", "opus"]


def test_style_with_ass_fails_the_job(alice_api, upload, run_job, black_clip, subtitle_files):
    ass = upload(alice_api, subtitle_files["ass"])
    job = run_job(
        alice_api,
        {"operation": "subtitles", "input": black_clip["id"], "params": {"subtitles": ass["id"], "style": {}}},
    )
    assert job["status"] == "failed"
    assert job["error"]["code"] == "style_not_applicable"
    assert job["outputs"] == []


def test_burn_on_odd_sized_video(alice_api, upload, run_job, fetch_output, odd_clip_path, srt):
    clip = upload(alice_api, odd_clip_path)
    job = subtitles(alice_api, run_job, clip["id"], {"subtitles": srt["id"], "preset": "ultrafast"})
    [video] = streams(probe(fetch_output(job["outputs"][0])), "video")
    assert (video["width"], video["height"]) == (160, 120)
    assert job["result"]["audio_codec"] is None


# --- soft -------------------------------------------------------------------------------------------------


def test_soft_mp4_has_a_mov_text_track_with_language_and_copied_video(
    alice_api, run_job, fetch_output, black_clip, black_clip_path, srt
):
    job = subtitles(alice_api, run_job, black_clip["id"], {"subtitles": srt["id"], "mode": "soft", "language": "eng"})
    path = fetch_output(job["outputs"][0])
    assert job["result"] == {
        "mode": "soft",
        "subtitle_format": "srt",
        "video_codec": "copy",
        "audio_codec": "copy",
        "subtitle_codec": "mov_text",
        "language": "eng",
    }
    info = probe(path)
    [track] = streams(info, "subtitle")
    assert track["codec_name"] == "mov_text"
    assert track["tags"]["language"] == "eng"
    assert [s["codec_name"] for s in streams(info, "audio")] == ["aac"]
    assert video_packets(path) == video_packets(black_clip_path)
    assert abs(float(info["format"]["duration"]) - 2.0) <= FRAME
    assert bright(gray_rows(path, CUE_TIMES[0])) == 0  # nothing drawn into the picture
    cues = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:s", "-f", "srt", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "FIRST CUE" in cues and "SECOND, 'quoted' [cue]" in cues


@pytest.mark.parametrize(
    ("kind", "codec"),
    [("srt", "subrip"), ("ass", "ass"), ("vtt", "subrip")],
)
def test_soft_mkv_keeps_srt_and_ass_and_converts_webvtt(
    alice_api, upload, run_job, fetch_output, black_clip, black_clip_path, subtitle_files, kind, codec
):
    asset = upload(alice_api, subtitle_files[kind])
    params = {"subtitles": asset["id"], "mode": "soft", "format": "mkv", "language": "fra"}
    job = subtitles(alice_api, run_job, black_clip["id"], params)
    path = fetch_output(job["outputs"][0])
    info = probe(path)
    [track] = streams(info, "subtitle")
    assert (track["codec_name"], track["tags"]["language"]) == (codec, "fra")
    assert job["result"]["subtitle_codec"] == codec
    assert video_packets(path) == video_packets(black_clip_path)
    if kind == "ass":
        header = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:s", "-c", "copy", "-f", "ass", "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "Style: Top,DejaVu Sans,32,&H0000FFFF" in header


def test_soft_webm_has_webvtt_and_reencodes_what_webm_cannot_hold(alice_api, run_job, fetch_output, black_clip, srt):
    params = {"subtitles": srt["id"], "mode": "soft", "format": "webm", "language": "deu", "preset": "ultrafast"}
    job = subtitles(alice_api, run_job, black_clip["id"], params)
    assert job["result"]["video_codec"] == "vp9" and job["result"]["audio_codec"] == "opus"
    info = probe(fetch_output(job["outputs"][0]))
    assert [s["codec_name"] for s in info["streams"]] == ["vp9", "opus", "webvtt"]
    assert streams(info, "subtitle")[0]["tags"]["language"] == "deu"
    assert abs(float(info["format"]["duration"]) - 2.0) <= 0.05


def test_soft_mov_with_a_language_quicktime_lacks_fails_clearly(alice_api, run_job, black_clip, srt):
    params = {"subtitles": srt["id"], "mode": "soft", "format": "mov", "language": "zzz"}
    job = run_job(alice_api, {"operation": "subtitles", "input": black_clip["id"], "params": params})
    assert job["status"] == "failed"
    assert job["error"]["code"] == "language_not_supported"
    assert job["outputs"] == []
