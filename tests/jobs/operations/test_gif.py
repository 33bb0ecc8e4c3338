"""gif on generated clips: animated GIF and WebP, their size, frame count, duration, loop count and first
frame, and bad requests."""

import json
import struct
import subprocess
from pathlib import Path

import pytest

from tests.jobs.operations.test_thumbnail import assert_shows_frame_at, gray
from tests.media import ffmpeg, make_clip, probe


@pytest.fixture(scope="session")
def gif_clip_path(media_dir) -> Path:
    """5 s, 480×270 (16:9), 25 fps H.264 + AAC."""
    return make_clip(media_dir / "gif-5s.mp4", seconds=5, size="480x270")


@pytest.fixture(scope="session")
def long_tiny_clip_path(media_dir) -> Path:
    """61 s, a little over the longest animation, but tiny: 64×36 at 5 fps."""
    path = media_dir / "gif-61s.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x36:rate=5:duration=61", "-c:v", "libx264", str(path))
    return path


@pytest.fixture
def gif_clip(alice_api, upload, gif_clip_path) -> dict:
    return upload(alice_api, gif_clip_path)


def animate(client, run_job, asset_id: str, params: dict) -> dict:
    job = run_job(client, {"operation": "gif", "input": asset_id, "params": params})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    assert len(job["outputs"]) == 1, job["outputs"]
    return job


def gif_stream(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames"]
        + ["-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    [stream] = json.loads(out.stdout)["streams"]
    return stream


def gif_loop(data: bytes) -> int | None:
    """The NETSCAPE2.0 loop count (repeats after the first play, 0 = forever); None without the extension."""
    at = data.find(b"NETSCAPE2.0")
    return None if at < 0 else struct.unpack("<H", data[at + 13 : at + 15])[0]


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((tag, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def test_gif_is_in_the_catalog_with_its_params(alice_api):
    response = alice_api.get("/api/v1/operations")
    [entry] = [op for op in response.json()["results"] if op["name"] == "gif"]
    assert entry["inputs"] == {"min": 1, "max": 1, "kinds": ["video"]}
    assert {"format", "start", "end", "fps", "width", "loop"} <= set(entry["params_schema"]["properties"])


def test_gif_of_the_first_three_seconds(alice_api, run_job, fetch_output, gif_clip, gif_clip_path):
    job = animate(alice_api, run_job, gif_clip["id"], {"start": 0, "end": 3, "fps": 10, "width": 320})
    [output] = job["outputs"]
    assert output["name"] == "gif-5s.gif"
    assert job["result"] == {"start": 0.0, "end": 3.0, "fps": 10.0, "width": 320, "height": 180, "loop": 0}
    path = fetch_output(output)
    info = probe(path)
    assert info["format"]["format_name"] == "gif"
    assert float(info["format"]["duration"]) == pytest.approx(3.0, abs=0.1)
    stream = gif_stream(path)
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("gif", 320, 180)
    assert int(stream["nb_read_frames"]) == 30
    assert (output["kind"], output["width"], output["height"]) == ("video", 320, 180)
    assert gif_loop(path.read_bytes()) == 0  # forever
    assert_shows_frame_at(gray(path), gif_clip_path, 0.0, [0.5], tolerance=4)  # 256 colours, dithered


def test_gif_start_and_end_pick_the_stretch(alice_api, run_job, fetch_output, gif_clip, gif_clip_path):
    job = animate(alice_api, run_job, gif_clip["id"], {"start": 2, "end": 3.5, "fps": 20, "width": 160})
    path = fetch_output(job["outputs"][0])
    assert int(gif_stream(path)["nb_read_frames"]) == 30
    assert float(probe(path)["format"]["duration"]) == pytest.approx(1.5, abs=0.1)
    assert_shows_frame_at(gray(path), gif_clip_path, 2.0, [0.0, 1.5, 3.5], tolerance=4)


def test_gif_defaults_to_the_whole_input_at_10_fps_and_its_own_width_when_narrower(
    alice_api, upload, run_job, fetch_output, clip_path
):
    asset = upload(alice_api, clip_path)  # 2 s, 320×240: narrower than the default 480
    job = animate(alice_api, run_job, asset["id"], {})
    assert job["result"] == {"start": 0.0, "end": 2.0, "fps": 10.0, "width": 320, "height": 240, "loop": 0}
    stream = gif_stream(fetch_output(job["outputs"][0]))
    assert (stream["width"], stream["height"], int(stream["nb_read_frames"])) == (320, 240, 20)


def test_gif_default_width_is_480(alice_api, upload, run_job, gif_clip):
    job = animate(alice_api, run_job, gif_clip["id"], {"end": 0.5})
    assert (job["result"]["width"], job["result"]["height"]) == (480, 270)


def test_animated_webp(alice_api, run_job, fetch_output, gif_clip):
    job = animate(alice_api, run_job, gif_clip["id"], {"format": "webp", "start": 1, "end": 2, "width": 160})
    [output] = job["outputs"]
    assert output["name"] == "gif-5s.webp"
    assert job["result"] == {"start": 1.0, "end": 2.0, "fps": 10.0, "width": 160, "height": 90, "loop": 0}
    chunks = webp_chunks(fetch_output(output).read_bytes())
    tags = [tag for tag, _ in chunks]
    assert tags[:2] == [b"VP8X", b"ANIM"]
    vp8x = chunks[0][1]
    assert vp8x[0] & 0x02  # the animation flag
    width, height = int.from_bytes(vp8x[4:7], "little") + 1, int.from_bytes(vp8x[7:10], "little") + 1
    assert (width, height) == (160, 90)
    assert struct.unpack("<H", chunks[1][1][4:6])[0] == 0  # loop forever
    frames = [body for tag, body in chunks if tag == b"ANMF"]
    assert len(frames) == 10
    assert sum(int.from_bytes(body[12:15], "little") for body in frames) == pytest.approx(1000, abs=20)  # ms


@pytest.mark.parametrize(("image_format", "loop", "stored"), [("gif", 1, None), ("gif", 3, 2), ("webp", 3, 3)])
def test_loop_sets_how_often_it_plays(alice_api, run_job, fetch_output, gif_clip, image_format, loop, stored):
    params = {"format": image_format, "end": 0.5, "width": 64, "loop": loop}
    data = fetch_output(animate(alice_api, run_job, gif_clip["id"], params)["outputs"][0]).read_bytes()
    if image_format == "gif":
        assert gif_loop(data) == stored  # repeats after the first play; no extension: play once
    else:
        [anim] = [body for tag, body in webp_chunks(data) if tag == b"ANIM"]
        assert struct.unpack("<H", anim[4:6])[0] == stored  # plays


INVALID = [
    pytest.param({"start": 2, "end": 1}, "params.end", "after start", id="end-before-start"),
    pytest.param({"start": 1, "end": 1}, "params.end", "after start", id="end-equals-start"),
    pytest.param({"start": 0, "end": 61}, "params.end", "at most 60 s", id="too-long"),
    pytest.param({"start": 10}, "params.start", "past the end", id="start-past-the-end"),
    pytest.param({"fps": 31}, "params.fps", "", id="fps-over-30"),
    pytest.param({"fps": 0}, "params.fps", "", id="zero-fps"),
    pytest.param({"width": 8}, "params.width", "", id="tiny-width"),
    pytest.param({"loop": -1}, "params.loop", "", id="negative-loop"),
    pytest.param({"format": "mp4"}, "params.format", "", id="unknown-format"),
    pytest.param({"speed": 2}, "params.speed", "", id="unknown-field"),
]


@pytest.mark.parametrize(("params", "field", "words"), INVALID)
def test_invalid_params_give_400_naming_the_field(alice_api, gif_clip, params, field, words):
    from jobs.models import Job

    response = alice_api.post(
        "/api/v1/jobs", {"operation": "gif", "input": gif_clip["id"], "params": params}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field], error["fields"]
    assert words in error["fields"][field][0]
    assert not Job.objects.exists()


def test_input_longer_than_the_limit_needs_an_end(alice_api, upload, run_job, long_tiny_clip_path):
    from jobs.models import Job

    asset = upload(alice_api, long_tiny_clip_path)
    response = alice_api.post("/api/v1/jobs", {"operation": "gif", "input": asset["id"]}, format="json")
    assert response.status_code == 400, response.content
    [message] = response.json()["error"]["fields"]["params.end"]
    assert "at most 60" in message
    assert not Job.objects.exists()
    # The last minute of it is fine.
    job = animate(alice_api, run_job, asset["id"], {"start": 1, "fps": 1, "width": 64})
    assert (job["result"]["start"], job["result"]["end"]) == (1.0, 61.0)
