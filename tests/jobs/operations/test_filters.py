"""filters on generated clips: each filter's effect is measured on the output's pixels, sizes and durations;
bad chains are refused naming the filter and field (`params.filters.2.amount`)."""

import re
import subprocess
from pathlib import Path

import pytest

from jobs.operations.filters import tempo_steps
from tests.media import ffmpeg, make_clip, probe

FRAME = 1 / 25 + 1e-6
AAC_FRAME = 1024 / 48000 + 1e-6  # AAC packs audio in 1024-sample frames: durations land on that grid


def lavfi_clip(path: Path, video: str, *, seconds: float = 2, audio: bool = True) -> Path:
    """An H.264 MP4 of the lavfi `video` graph (which sets its own duration), with a tone of `seconds`."""
    if not path.exists():
        args = ["-f", "lavfi", "-i", video]
        if audio:
            args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25"]
        args += ["-c:a", "aac", "-shortest"] if audio else []
        ffmpeg(*args, str(path))
    return path


@pytest.fixture(scope="session")
def first_white_path(media_dir) -> Path:
    """2 s, 160×120 black with a white first frame, and a tone."""
    video = "color=c=black:s=160x120:r=25:d=2,drawbox=c=white:t=fill:enable='eq(n,0)'"
    return lavfi_clip(media_dir / "first-white.mp4", video)


@pytest.fixture(scope="session")
def corner_path(media_dir) -> Path:
    """2 s, 160×120 black with a white 40×30 box in the top-left corner, silent."""
    video = "color=c=black:s=160x120:r=25:d=2,drawbox=x=0:y=0:w=40:h=30:c=white:t=fill"
    return lavfi_clip(media_dir / "corner.mp4", video, audio=False)


@pytest.fixture(scope="session")
def shaky_path(media_dir) -> Path:
    """2 s, 160×120 of a still test card with the camera jumping around."""
    video = "smptehdbars=s=220x180:r=25:d=2,crop=160:120:'30+8*sin(n*1.7)':'30+8*cos(n*1.3)'"
    return lavfi_clip(media_dir / "shaky.mp4", video, audio=False)


@pytest.fixture(scope="session")
def long_small_path(media_dir) -> Path:
    """61 s, 64×48 at 5 fps: longer than reverse takes."""
    path = media_dir / "long-small.mp4"
    return path if path.exists() else make_clip(path, seconds=61, size="64x48", rate=5, audio=False)


@pytest.fixture(scope="session")
def rotated_path(media_dir, clip_path) -> Path:
    """The 320×240 clip tagged to play rotated 90° (as phones record): it plays 240×320."""
    path = media_dir / "rotated.mp4"
    if not path.exists():
        ffmpeg("-i", str(clip_path), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(path))
    return path


@pytest.fixture
def clip(alice_api, upload, clip_path) -> dict:
    return upload(alice_api, clip_path)


@pytest.fixture
def corner(alice_api, upload, corner_path) -> dict:
    return upload(alice_api, corner_path)


def submit(client, asset_id: str, params: dict):
    return client.post("/api/v1/jobs", {"operation": "filters", "input": asset_id, "params": params}, format="json")


def apply(client, run_job, fetch_output, asset_id: str, filters: list[dict], **params) -> tuple[dict, Path]:
    body = {"operation": "filters", "input": asset_id, "params": {"filters": filters, "preset": "ultrafast", **params}}
    job = run_job(client, body)
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    [output] = job["outputs"]
    return job, fetch_output(output)


def fields(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["fields"]


def size(path: Path) -> tuple[int, int]:
    [video] = [s for s in probe(path)["streams"] if s["codec_type"] == "video"]
    return video["width"], video["height"]


def stream_durations(path: Path) -> dict[str, float]:
    return {s["codec_type"]: float(s["duration"]) for s in probe(path)["streams"]}


def frames(path: Path, pix_fmt: str = "gray") -> list[bytes]:
    """Every decoded frame's raw bytes (gray or yuv420p)."""
    width, height = size(path)
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        capture_output=True,
        check=True,
    )
    frame_size = width * height * (3 if pix_fmt == "yuv420p" else 2) // 2
    return [done.stdout[i : i + frame_size] for i in range(0, len(done.stdout), frame_size)]


def mean(data: bytes) -> float:
    return sum(data) / len(data)


def region(frame: bytes, width: int, x0: int, y0: int, x1: int, y1: int) -> bytes:
    return b"".join(frame[row * width + x0 : row * width + x1] for row in range(y0, y1))


def peak_db(path: Path, start: float, seconds: float = 0.05) -> float:
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-ss", str(start), "-t", str(seconds), "-i", str(path)]
        + ["-map", "0:a", "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"max_volume: (-?[0-9.]+|-inf) dB", done.stderr)
    return float(found.group(1))


# --- catalog and validation -------------------------------------------------------------------------------


def test_catalog_lists_filters_with_each_filters_schema_and_stabilize_capability(alice_api):
    [entry] = [op for op in alice_api.get("/api/v1/operations").json()["results"] if op["name"] == "filters"]
    assert entry["capabilities"] == {"stabilize": True}  # this FFmpeg has vid.stab
    schema = entry["params_schema"]
    items = schema["properties"]["filters"]["items"]
    assert items["discriminator"]["propertyName"] == "name"
    assert set(items["discriminator"]["mapping"]) == {
        *("deinterlace", "denoise", "sharpen", "eq", "speed", "reverse", "fade"),
        *("rotate", "flip", "crop", "grayscale", "stabilize"),
    }
    assert schema["properties"]["filters"]["maxItems"] == 10
    assert set(schema["$defs"]["Fade"]["properties"]) == {"name", "in", "out"}


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ([{"name": "blur"}], "params.filters.0.name"),
        ([{"amount": 1}], "params.filters.0.name"),
        ([{"name": "grayscale"}, {"name": "grayscale"}, {"name": "sharpen", "amount": 3.5}], "params.filters.2.amount"),
        ([{"name": "denoise", "strength": -1}], "params.filters.0.strength"),
        ([{"name": "eq", "gamma": 0}], "params.filters.0.gamma"),
        ([{"name": "eq", "brightness": 2}], "params.filters.0.brightness"),
        ([{"name": "speed"}], "params.filters.0.factor"),
        ([{"name": "speed", "factor": 5}], "params.filters.0.factor"),
        ([{"name": "rotate", "degrees": 45}], "params.filters.0.degrees"),
        ([{"name": "flip", "direction": "diagonal"}], "params.filters.0.direction"),
        ([{"name": "crop", "x": 0, "y": 0, "width": 99, "height": 50}], "params.filters.0.width"),
        ([{"name": "crop", "x": 0, "y": 0, "width": 100}], "params.filters.0.height"),
        ([{"name": "crop", "aspect_ratio": "1:1", "x": 0}], "params.filters.0.aspect_ratio"),
        ([{"name": "crop", "aspect_ratio": "16/9"}], "params.filters.0.aspect_ratio"),
        ([{"name": "fade"}], "params.filters.0.in"),
        ([{"name": "fade", "in": -1}], "params.filters.0.in"),
        ([{"name": "eq", "filter": "drawtext=text=x"}], "params.filters.0.filter"),
        ([{"name": "stabilize"}, {"name": "stabilize"}], "params.filters.1.name"),
        (["eq"], "params.filters.0"),
        ([], "params.filters"),
        ([{"name": "grayscale"}] * 11, "params.filters"),
    ],
)
def test_bad_filters_are_400_naming_the_filter_and_field(alice_api, clip, filters, field):
    assert list(fields(submit(alice_api, clip["id"], {"filters": filters}))) == [field]


def test_unknown_filter_message_lists_the_filters(alice_api, clip):
    [message] = fields(submit(alice_api, clip["id"], {"filters": [{"name": "blur"}]}))["params.filters.0.name"]
    assert message.startswith("'blur' is not a filter; use one of: deinterlace, denoise")


def test_raw_filter_strings_are_not_accepted(alice_api, clip):
    response = submit(alice_api, clip["id"], {"filters": [{"name": "eq"}], "filter_complex": "negate"})
    assert list(fields(response)) == ["params.filter_complex"]
    response = submit(alice_api, clip["id"], {"filters": [{"name": "eq", "contrast": "1:brightness=1"}]})
    assert list(fields(response)) == ["params.filters.0.contrast"]


def test_crop_outside_the_frame_is_refused_at_submit(alice_api, clip):
    crop = {"name": "crop", "x": 200, "y": 0, "width": 200, "height": 100}
    assert fields(submit(alice_api, clip["id"], {"filters": [crop]})) == {
        "params.filters.0.width": ["x + width (400) is past the picture's width (320) at this point"]
    }


def test_crop_is_checked_against_the_picture_at_its_place_in_the_chain(alice_api, clip):
    crop = {"name": "crop", "x": 0, "y": 0, "width": 300, "height": 200}
    assert submit(alice_api, clip["id"], {"filters": [crop]}).status_code == 202
    rotated = [{"name": "rotate", "degrees": 90}, crop]  # 240 wide after the rotation
    assert list(fields(submit(alice_api, clip["id"], {"filters": rotated}))) == ["params.filters.1.width"]


def test_reverse_of_a_long_input_is_refused_clearly(alice_api, upload, long_small_path):
    asset = upload(alice_api, long_small_path)
    [message] = fields(submit(alice_api, asset["id"], {"filters": [{"name": "reverse"}]}))["params.filters.0.name"]
    assert "up to 60 s" in message and "Trim it first" in message


def test_reverse_after_a_slowdown_counts_the_slowed_duration(alice_api, clip):
    chain = [{"name": "speed", "factor": 0.25}, {"name": "reverse"}]
    assert submit(alice_api, clip["id"], {"filters": chain}).status_code == 202  # 8 s
    long_chain = [{"name": "speed", "factor": 0.25}] * 2 + [{"name": "speed", "factor": 0.5}, {"name": "reverse"}]
    assert list(fields(submit(alice_api, clip["id"], {"filters": long_chain}))) == ["params.filters.3.name"]


def test_fade_longer_than_the_video_is_refused(alice_api, clip):
    assert list(fields(submit(alice_api, clip["id"], {"filters": [{"name": "fade", "out": 3}]}))) == [
        "params.filters.0.out"
    ]


def test_stabilize_without_vidstab_is_refused(alice_api, clip, monkeypatch):
    monkeypatch.setattr("jobs.operations.filters.available_filters", lambda: frozenset({"scale"}))
    [entry] = [op for op in alice_api.get("/api/v1/operations").json()["results"] if op["name"] == "filters"]
    assert entry["capabilities"] == {"stabilize": False}
    [message] = fields(submit(alice_api, clip["id"], {"filters": [{"name": "stabilize"}]}))["params.filters.0.name"]
    assert "vid.stab" in message


def test_tempo_steps_stay_in_atempos_best_range():
    assert tempo_steps(4) == [2.0, 2.0]
    assert tempo_steps(0.25) == [0.5, 0.5]
    assert tempo_steps(3) == [2.0, 1.5]
    assert tempo_steps(1.5) == [1.5]


# --- what each filter does --------------------------------------------------------------------------------


@pytest.mark.parametrize(("factor", "seconds", "frame_count"), [(2, 1.0, 25), (0.5, 4.0, 100)])
def test_speed_changes_video_and_audio_duration_alike(
    alice_api, run_job, fetch_output, clip, factor, seconds, frame_count
):
    job, path = apply(alice_api, run_job, fetch_output, clip["id"], [{"name": "speed", "factor": factor}])
    durations = stream_durations(path)
    assert abs(durations["video"] - seconds) <= FRAME
    assert abs(durations["audio"] - seconds) <= 2 * AAC_FRAME
    assert abs(len(frames(path)) - frame_count) <= 1  # the frame rate stays 25
    assert job["result"]["duration"] == seconds


def test_reverse_ends_with_the_first_frame(alice_api, upload, run_job, fetch_output, first_white_path):
    asset = upload(alice_api, first_white_path)
    _, path = apply(alice_api, run_job, fetch_output, asset["id"], [{"name": "reverse"}])
    decoded = frames(path)
    assert len(decoded) == 50
    assert mean(decoded[-1]) > 200
    assert all(mean(frame) < 30 for frame in decoded[:-1])
    durations = stream_durations(path)
    assert abs(durations["video"] - 2.0) <= FRAME and abs(durations["audio"] - 2.0) <= 2 * AAC_FRAME


@pytest.mark.parametrize(
    ("filters", "expected_size", "white_box"),
    [
        ([{"name": "rotate", "degrees": 90}], (120, 160), (90, 0, 120, 40)),  # top-left → top-right
        ([{"name": "rotate", "degrees": 270}], (120, 160), (0, 120, 30, 160)),  # top-left → bottom-left
        ([{"name": "rotate", "degrees": 180}], (160, 120), (120, 90, 160, 120)),
        ([{"name": "flip", "direction": "horizontal"}], (160, 120), (120, 0, 160, 30)),
        ([{"name": "flip", "direction": "vertical"}], (160, 120), (0, 90, 40, 120)),
        ([{"name": "crop", "x": 0, "y": 0, "width": 60, "height": 40}], (60, 40), (0, 0, 40, 30)),
        ([{"name": "crop", "x": 20, "y": 14, "width": 40, "height": 32}], (40, 32), (0, 0, 20, 16)),
    ],
)
def test_geometry(alice_api, run_job, fetch_output, corner, filters, expected_size, white_box):
    job, path = apply(alice_api, run_job, fetch_output, corner["id"], filters)
    assert size(path) == expected_size
    assert (job["result"]["width"], job["result"]["height"]) == expected_size
    frame = frames(path)[0]
    x0, y0, x1, y1 = white_box
    assert mean(region(frame, expected_size[0], x0 + 2, y0 + 2, x1 - 2, y1 - 2)) > 200
    box = region(frame, expected_size[0], x0, y0, x1, y1)
    assert (sum(frame) - sum(box)) / (len(frame) - len(box)) < 30  # everything else is black


def test_a_rotated_phone_video_is_measured_as_it_plays(alice_api, upload, run_job, fetch_output, rotated_path):
    asset = upload(alice_api, rotated_path)
    crop = {"name": "crop", "x": 0, "y": 0, "width": 240, "height": 300}  # past the stored 240 rows
    _, path = apply(alice_api, run_job, fetch_output, asset["id"], [crop])
    assert size(path) == (240, 300)


@pytest.mark.parametrize(("ratio", "expected"), [("1:1", (240, 240)), ("9:16", (134, 240)), ("21:9", (320, 136))])
def test_crop_to_an_aspect_ratio_is_centred(alice_api, run_job, fetch_output, clip, ratio, expected):
    _, path = apply(alice_api, run_job, fetch_output, clip["id"], [{"name": "crop", "aspect_ratio": ratio}])
    assert size(path) == expected


def test_eq_brightness_raises_mean_luma(alice_api, run_job, fetch_output, clip, clip_path):
    _, path = apply(alice_api, run_job, fetch_output, clip["id"], [{"name": "eq", "brightness": 0.3}])
    assert mean(frames(path)[10]) > mean(frames(clip_path)[10]) + 40


def chroma_spread(frame: bytes, width: int, height: int) -> int:
    """How far the chroma samples of a yuv420p frame stray from neutral (128)."""
    chroma = frame[width * height :]
    return max(abs(value - 128) for value in chroma)


def test_grayscale_flattens_chroma(alice_api, run_job, fetch_output, clip, clip_path):
    _, path = apply(alice_api, run_job, fetch_output, clip["id"], [{"name": "grayscale"}], format="webm")
    assert [s["codec_name"] for s in probe(path)["streams"]] == ["vp9", "opus"]
    assert chroma_spread(frames(clip_path, "yuv420p")[5], 320, 240) > 50  # the colourful source
    assert chroma_spread(frames(path, "yuv420p")[5], 320, 240) <= 2


def test_fade_in_and_out_start_and_end_in_black_and_silence(alice_api, run_job, fetch_output, clip):
    _, path = apply(alice_api, run_job, fetch_output, clip["id"], [{"name": "fade", "in": 0.5, "out": 0.5}])
    decoded = frames(path)
    assert mean(decoded[0]) < 20
    assert mean(decoded[-1]) < 25
    assert mean(decoded[25]) > 60  # the test card in the middle
    assert peak_db(path, 0) < peak_db(path, 1.0) - 20
    assert peak_db(path, 1.9) < peak_db(path, 1.0) - 10


def test_stabilize_steadies_a_shaky_clip(alice_api, upload, run_job, fetch_output, shaky_path):
    asset = upload(alice_api, shaky_path)
    _, path = apply(alice_api, run_job, fetch_output, asset["id"], [{"name": "stabilize", "smoothing": 30}])

    def jitter(decoded: list[bytes]) -> float:
        """The mean absolute change between consecutive frames."""
        pairs = list(zip(decoded, decoded[1:], strict=False))
        return sum(sum(abs(a - b) for a, b in zip(x, y, strict=True)) / len(x) for x, y in pairs) / len(pairs)

    assert size(path) == (160, 120)
    assert len(frames(path)) == 50
    assert jitter(frames(path)) < 0.3 * jitter(frames(shaky_path))  # measured: 2.3 against 27.5


@pytest.mark.parametrize("method", ["bwdif", "yadif"])
def test_deinterlace_keeps_the_frame_rate(alice_api, run_job, fetch_output, corner, method):
    _, path = apply(alice_api, run_job, fetch_output, corner["id"], [{"name": "deinterlace", "method": method}])
    assert len(frames(path)) == 50


def test_a_chain_of_simple_filters_runs_in_order(alice_api, run_job, fetch_output, clip):
    chain = [
        {"name": "deinterlace"},
        {"name": "denoise", "strength": 6},
        {"name": "sharpen", "amount": 1.5},
        {"name": "eq", "contrast": 1.2, "saturation": 0.5, "gamma": 1.1},
        {"name": "crop", "aspect_ratio": "1:1"},
        {"name": "rotate", "degrees": 90},
    ]
    job, path = apply(alice_api, run_job, fetch_output, clip["id"], chain, format="mkv")
    assert job["result"] == {
        "filters": ["deinterlace", "denoise", "sharpen", "eq", "crop", "rotate"],
        "width": 240,
        "height": 240,
        "duration": 2.0,
    }
    assert job["outputs"][0]["name"] == "clip.mkv"
    assert size(path) == (240, 240)
    assert [s["codec_name"] for s in probe(path)["streams"]] == ["h264", "aac"]
