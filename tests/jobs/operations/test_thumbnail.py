"""thumbnail on generated clips: frames at times, evenly spaced frames, the best frame, sprite sheets with their
WebVTT track, and bad requests. Frames are checked against the source frame decoded at the expected time."""

import math
import re
import subprocess
from pathlib import Path

import pytest

from jobs.operations import thumbnail
from tests.media import ffmpeg, make_clip, probe

CODECS = {"jpg": "mjpeg", "png": "png", "webp": "webp"}


@pytest.fixture(scope="session")
def clip_5s_path(media_dir) -> Path:
    """5 s, 480×270 (16:9), 25 fps H.264 + AAC."""
    return make_clip(media_dir / "thumbs-5s.mp4", seconds=5, size="480x270")


@pytest.fixture(scope="session")
def black_start_path(media_dir) -> Path:
    """2 s of black, then 1 s of test pattern. Black is the majority, so the `thumbnail` filter alone picks a
    black frame (checked when this test was written): only skipping black frames gives a picture."""
    path = media_dir / "thumbs-black-start.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "color=black:size=320x240:rate=25:duration=2",
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1",
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path),
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def all_black_path(media_dir) -> Path:
    path = media_dir / "thumbs-black.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=black:size=160x120:rate=25:duration=1", "-c:v", "libx264", str(path))
    return path


@pytest.fixture(scope="session")
def short_video_mkv_path(media_dir) -> Path:
    """An MKV whose video (2 s) ends before its audio (4 s); Matroska declares no per-stream duration, so only
    the container's 4 s is known before FFmpeg reads the file."""
    path = media_dir / "thumbs-short-video.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=duration=4",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus", str(path),
    )  # fmt: skip
    return path


def gray(path: Path, *, at: float | None = None, crop: str | None = None) -> bytes:
    """One frame (the first, or the one at `at` s) as 64×36 8-bit gray pixels, for comparing pictures."""
    seek = ["-ss", str(at)] if at is not None else []
    filters = ",".join([*([f"crop={crop}"] if crop else []), "scale=64:36", "format=gray"])
    done = subprocess.run(
        ["ffmpeg", "-v", "error", *seek, "-i", str(path), "-frames:v", "1", "-vf", filters] + ["-f", "rawvideo", "-"],
        capture_output=True,
        check=True,
    )
    assert len(done.stdout) == 64 * 36
    return done.stdout


def difference(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def assert_shows_frame_at(image: bytes, source: Path, time: float, others: list[float], tolerance: float = 2):
    """The image is the source's frame at `time`: closer to it than to the frames at the `others` times. (A
    thumbnail differs from its frame by about 0.5 on average; the next frame of the test pattern by about 3.)"""
    expected = difference(image, gray(source, at=time))
    assert expected < tolerance, f"frame at {time} s differs by {expected:.1f}"
    for other in others:
        assert expected < difference(image, gray(source, at=other)), f"looks more like {other} s than {time} s"


def submit(client, asset_id: str, params: dict):
    return client.post("/api/v1/jobs", {"operation": "thumbnail", "input": asset_id, "params": params}, format="json")


def thumbnails(client, run_job, asset_id: str, params: dict, outputs: int) -> dict:
    job = run_job(client, {"operation": "thumbnail", "input": asset_id, "params": params})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    assert len(job["outputs"]) == outputs, job["outputs"]
    return job


def by_name(job: dict) -> dict[str, dict]:
    return {output["name"]: output for output in job["outputs"]}


def video_stream(path: Path) -> dict:
    [video] = [s for s in probe(path)["streams"] if s["codec_type"] == "video"]
    return video


@pytest.fixture
def clip_5s(alice_api, upload, clip_5s_path) -> dict:
    return upload(alice_api, clip_5s_path)


def test_thumbnail_is_in_the_catalog_with_its_params(alice_api):
    response = alice_api.get("/api/v1/operations")
    assert response.status_code == 200
    [entry] = [op for op in response.json()["results"] if op["name"] == "thumbnail"]
    assert entry["inputs"] == {"min": 1, "max": 1, "kinds": ["video"]}
    properties = entry["params_schema"]["properties"]
    assert {"times", "count", "best", "sprite", "interval", "columns", "format", "width", "quality"} <= set(properties)
    assert properties["format"]["enum"] == ["jpg", "png", "webp"]


# --- frames at times -------------------------------------------------------------------------------------


def test_count_gives_evenly_spaced_frames_of_the_asked_width(alice_api, run_job, fetch_output, clip_5s, clip_5s_path):
    job = thumbnails(alice_api, run_job, clip_5s["id"], {"count": 4, "width": 320}, outputs=4)
    frames = job["result"]["frames"]
    assert job["result"]["mode"] == "count"
    # 4 frames in 5 s, none at the ends: 1, 2, 3 and 4 s.
    assert [frame["time"] for frame in frames] == [1.0, 2.0, 3.0, 4.0]
    outputs = by_name(job)
    assert [frame["name"] for frame in frames] == [f"thumbs-5s-thumb-{i}.jpg" for i in range(1, 5)]
    for frame in frames:
        output = outputs[frame["name"]]
        path = fetch_output(output)
        video = video_stream(path)
        assert (video["codec_name"], video["width"], video["height"]) == ("mjpeg", 320, 180)  # 16:9 kept
        assert (output["kind"], output["width"], output["height"]) == ("image", 320, 180)
        others = [t for t in (1.0, 2.0, 3.0, 4.0) if t != frame["time"]]
        assert_shows_frame_at(gray(path), clip_5s_path, frame["time"], others)


def test_times_take_seconds_and_percentages(alice_api, run_job, fetch_output, clip_5s, clip_5s_path):
    job = thumbnails(alice_api, run_job, clip_5s["id"], {"times": [0.5, "50%", "90%"], "format": "png"}, outputs=3)
    frames = job["result"]["frames"]
    assert [frame["time"] for frame in frames] == [0.5, 2.5, 4.5]
    outputs = by_name(job)
    for frame in frames:
        path = fetch_output(outputs[frame["name"]])
        assert (video_stream(path)["width"], video_stream(path)["height"]) == (480, 270)  # the source's size
        others = [t for t in (0.5, 2.5, 4.5) if t != frame["time"]]
        assert_shows_frame_at(gray(path), clip_5s_path, frame["time"], others)


def test_a_time_asked_twice_gives_one_image(alice_api, run_job, clip_5s):
    job = thumbnails(alice_api, run_job, clip_5s["id"], {"times": [1, "20%", 3, 1.0], "width": 160}, outputs=2)
    frames = job["result"]["frames"]
    assert [(frame["time"], frame["name"]) for frame in frames] == [
        (1.0, "thumbs-5s-thumb-1.jpg"),
        (1.0, "thumbs-5s-thumb-1.jpg"),
        (3.0, "thumbs-5s-thumb-2.jpg"),
        (1.0, "thumbs-5s-thumb-1.jpg"),
    ]
    assert set(by_name(job)) == {"thumbs-5s-thumb-1.jpg", "thumbs-5s-thumb-2.jpg"}


def test_time_in_the_last_frame_gives_the_last_frame(alice_api, run_job, fetch_output, clip_5s, clip_5s_path):
    job = thumbnails(alice_api, run_job, clip_5s["id"], {"times": [4.99]}, outputs=1)
    [frame] = job["result"]["frames"]
    assert 4.9 <= frame["time"] <= 4.99
    assert_shows_frame_at(gray(fetch_output(job["outputs"][0])), clip_5s_path, 4.96, [4.0])


@pytest.mark.parametrize("image_format", ["jpg", "png", "webp"])
def test_default_is_one_frame_at_the_middle_in_the_asked_format(
    alice_api, run_job, fetch_output, clip_5s, clip_5s_path, image_format
):
    job = thumbnails(alice_api, run_job, clip_5s["id"], {"format": image_format, "width": 160}, outputs=1)
    assert job["result"] == {"mode": "middle", "frames": [{"time": 2.5, "name": f"thumbs-5s-thumb.{image_format}"}]}
    [output] = job["outputs"]
    assert output["name"] == f"thumbs-5s-thumb.{image_format}"
    path = fetch_output(output)
    video = video_stream(path)
    assert (video["codec_name"], video["width"], video["height"]) == (CODECS[image_format], 160, 90)
    assert output["kind"] == "image"
    assert_shows_frame_at(gray(path), clip_5s_path, 2.5, [1.5, 3.5])


def test_lower_quality_gives_smaller_jpeg(alice_api, run_job, clip_5s):
    sizes = {}
    for quality in ("low", "high"):
        job = thumbnails(alice_api, run_job, clip_5s["id"], {"quality": quality}, outputs=1)
        sizes[quality] = job["outputs"][0]["size"]
    assert sizes["low"] < sizes["high"] * 0.7, sizes


def test_time_after_the_video_ends_fails_the_job_with_invalid_time(alice_api, upload, run_job, short_video_mkv_path):
    asset = upload(alice_api, short_video_mkv_path)
    assert asset["duration"] == pytest.approx(4, abs=0.1)
    job = run_job(alice_api, {"operation": "thumbnail", "input": asset["id"], "params": {"times": [1, 3]}})
    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid_time"
    assert "3 s" in job["error"]["message"]
    assert job["outputs"] == []


# --- best frame -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampling", ["decode-all", "seek-per-sample"])
def test_best_skips_black_frames(alice_api, upload, run_job, fetch_output, black_start_path, monkeypatch, sampling):
    if sampling == "seek-per-sample":  # the way inputs longer than a minute are sampled
        monkeypatch.setattr(thumbnail, "BEST_SEEK_OVER", 0)
    asset = upload(alice_api, black_start_path)
    job = thumbnails(alice_api, run_job, asset["id"], {"best": True, "width": 160}, outputs=1)
    [frame] = job["result"]["frames"]
    assert job["result"]["mode"] == "best"
    assert frame["name"] == "thumbs-black-start-best.jpg"
    assert 2.0 <= frame["time"] < 3.0  # in the picture part
    path = fetch_output(job["outputs"][0])
    assert (video_stream(path)["width"], video_stream(path)["height"]) == (160, 120)
    pixels = gray(path)
    assert sum(pixels) / len(pixels) > 60  # black is 16; the test pattern averages about 120
    assert_shows_frame_at(pixels, black_start_path, frame["time"], [0.5])


def test_best_of_an_all_black_input_still_gives_a_frame(alice_api, upload, run_job, fetch_output, all_black_path):
    asset = upload(alice_api, all_black_path)
    job = thumbnails(alice_api, run_job, asset["id"], {"best": True, "format": "png"}, outputs=1)
    [frame] = job["result"]["frames"]
    assert 0 <= frame["time"] < 1
    assert video_stream(fetch_output(job["outputs"][0]))["codec_name"] == "png"


# --- sprite sheets --------------------------------------------------------------------------------------

CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)$")


def cues(vtt: str) -> list[tuple[float, float, str]]:
    assert vtt.startswith("WEBVTT\n\n")
    found = []
    for block in vtt.strip().split("\n\n")[1:]:
        timing, target = block.split("\n")
        match = CUE.match(timing)
        assert match, timing
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups())
        found.append((h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000, target))
    return found


@pytest.mark.parametrize(
    ("params", "tiles", "columns", "rows"),
    [
        pytest.param({"sprite": True, "interval": 2, "width": 160}, 3, 3, 1, id="interval-2"),
        pytest.param({"sprite": True, "interval": 1, "width": 160, "columns": 2}, 5, 2, 3, id="wraps-rows"),
    ],
)
def test_sprite_gives_a_sheet_and_a_webvtt_track(
    alice_api, run_job, fetch_output, clip_5s, clip_5s_path, params, tiles, columns, rows
):
    job = thumbnails(alice_api, run_job, clip_5s["id"], params, outputs=2)
    sprite = job["result"]["sprite"]
    assert job["result"]["mode"] == "sprite"
    assert sprite == {
        "name": "thumbs-5s-sprite.jpg",
        "vtt": "thumbs-5s-sprite.vtt",
        "tiles": tiles,
        "columns": columns,
        "rows": rows,
        "tile_width": 160,
        "tile_height": 90,
        "interval": params["interval"],
    }
    outputs = by_name(job)
    assert (outputs["thumbs-5s-sprite.jpg"]["kind"], outputs["thumbs-5s-sprite.vtt"]["kind"]) == ("image", "subtitle")
    sheet_path = fetch_output(outputs["thumbs-5s-sprite.jpg"])
    sheet = video_stream(sheet_path)
    assert (sheet["codec_name"], sheet["width"], sheet["height"]) == ("mjpeg", columns * 160, rows * 90)

    vtt = fetch_output(outputs["thumbs-5s-sprite.vtt"]).read_text()
    found = cues(vtt)
    interval = params["interval"]
    assert len(found) == math.ceil(5 / interval) == tiles
    assert found[0][0] == 0 and found[-1][1] == 5.0
    for (_, end, _), (start, _, _) in zip(found, found[1:], strict=False):
        assert end == start  # contiguous
    for index, (start, end, target) in enumerate(found):
        assert end - start <= interval
        name, xywh = target.split("#xywh=")
        assert name == "thumbs-5s-sprite.jpg"
        x, y, w, h = map(int, xywh.split(","))
        assert (w, h) == (160, 90)
        assert (x, y) == ((index % columns) * 160, (index // columns) * 90)
        assert x + w <= sheet["width"] and y + h <= sheet["height"]
        # The tile is the frame on screen when its cue starts.
        tile = gray(sheet_path, crop=f"{w}:{h}:{x}:{y}")
        others = [t * interval for t in range(tiles) if t != index]
        assert_shows_frame_at(tile, clip_5s_path, start, others)


def test_sprite_default_tile_width_keeps_the_aspect(alice_api, run_job, clip_5s):
    job = thumbnails(alice_api, run_job, clip_5s["id"], {"sprite": True, "format": "png"}, outputs=2)
    sprite = job["result"]["sprite"]
    assert (sprite["tiles"], sprite["interval"], sprite["tile_width"], sprite["tile_height"]) == (1, 10.0, 160, 90)


# --- invalid requests -----------------------------------------------------------------------------------

INVALID = [
    pytest.param({"count": 4, "best": True}, "params.best", ["count", "best"], id="two-modes"),
    pytest.param({"times": [1], "sprite": True}, "params.sprite", ["times", "sprite"], id="times-and-sprite"),
    pytest.param({"width": 321}, "params.width", ["even"], id="odd-width"),
    pytest.param({"times": [1, "150%"]}, "params.times.1", ["below 100%"], id="percentage-over-100"),
    pytest.param({"times": ["soon"]}, "params.times.0", ["seconds"], id="time-not-a-time"),
    pytest.param({"times": [-1]}, "params.times.0", ["0 or more"], id="negative-time"),
    pytest.param({"times": [1, 7]}, "params.times.1", ["past the end"], id="time-past-the-end"),
    pytest.param({"count": 0}, "params.count", [], id="zero-count"),
    pytest.param({"count": 51}, "params.count", [], id="too-many"),
    pytest.param({"interval": 2}, "params.interval", ["sprite"], id="interval-without-sprite"),
    pytest.param({"format": "png", "quality": "high"}, "params.quality", ["lossless"], id="png-quality"),
    pytest.param({"format": "gif"}, "params.format", [], id="unknown-format"),
    pytest.param({"sprite": True, "columns": 100, "width": 320}, "params.columns", ["16383"], id="sheet-too-wide"),
    pytest.param(
        {"sprite": True, "interval": 0.1, "columns": 1, "width": 1600}, "params.interval", ["16383"], id="too-tall"
    ),
    pytest.param({"size": 2}, "params.size", [], id="unknown-field"),
]


@pytest.mark.parametrize(("params", "field", "words"), INVALID)
def test_invalid_params_give_400_naming_the_field(alice_api, clip_5s, params, field, words):
    from jobs.models import Job

    response = submit(alice_api, clip_5s["id"], params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field], error["fields"]
    [message] = error["fields"][field]
    assert all(word in message for word in words), message
    assert not Job.objects.exists()
