"""watermark on generated media: a white logo on a black video, checked pixel by pixel in decoded frames."""

import subprocess
from pathlib import Path

import pytest

from tests.media import ffmpeg, probe

BRIGHT, DARK = 235, 20


@pytest.fixture(scope="session")
def black_clip_path(media_dir) -> Path:
    """2 s, 320×240, 25 fps black H.264 with an AAC tone."""
    path = media_dir / "black.mp4"
    if not path.exists():
        ffmpeg(
            "-f", "lavfi", "-i", "color=c=black:s=320x240:r=25:d=2",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path),
        )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def rotated_clip_path(media_dir, black_clip_path) -> Path:
    """The black clip stored 320×240 with a 90° display rotation: it plays as 240×320."""
    path = media_dir / "black-rotated.mp4"
    if not path.exists():
        ffmpeg("-i", str(black_clip_path), "-c", "copy", "-metadata:s:v", "rotate=90", str(path))
    return path


@pytest.fixture(scope="session")
def logo_path(media_dir) -> Path:
    """A solid white 100×50 PNG."""
    path = media_dir / "logo.png"
    if not path.exists():
        ffmpeg("-f", "lavfi", "-i", "color=c=white:s=100x50", "-frames:v", "1", str(path))
    return path


@pytest.fixture(scope="session")
def half_transparent_logo_path(media_dir) -> Path:
    """A white 100×50 RGBA PNG whose left half is fully transparent."""
    path = media_dir / "logo-half.png"
    if not path.exists():
        ffmpeg(
            "-f", "lavfi", "-i", "color=c=white:s=100x50",
            "-vf", "format=rgba,geq=r=255:g=255:b=255:a='if(lt(X,50),0,255)'", "-frames:v", "1", str(path),
        )  # fmt: skip
    return path


class Frame:
    """One decoded frame as RGB24."""

    def __init__(self, path: Path, at: float):
        [video] = [s for s in probe(path)["streams"] if s["codec_type"] == "video"]
        self.width, self.height = video["width"], video["height"]
        self.data = subprocess.run(
            ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1"]
            + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            capture_output=True,
            check=True,
        ).stdout
        assert len(self.data) == self.width * self.height * 3

    def level(self, x: int, y: int) -> int:
        """The darkest channel of a pixel (255 for white, 0 for black)."""
        offset = (y * self.width + x) * 3
        return min(self.data[offset : offset + 3])


@pytest.fixture
def alice_black(alice_api, upload, black_clip_path) -> dict:
    return upload(alice_api, black_clip_path)


@pytest.fixture
def alice_logo(alice_api, upload, logo_path) -> dict:
    logo = upload(alice_api, logo_path)
    assert logo["kind"] == "image"
    return logo


def watermark(client, run_job, fetch_output, video_id: str, params: dict) -> Path:
    job = run_job(client, {"operation": "watermark", "input": video_id, "params": {"preset": "ultrafast", **params}})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    [output] = job["outputs"]
    return fetch_output(output, client)


# top-right, scale 0.2, margin 0.02 of 320: a 64×32 logo with its corner 6.4 px from the top and right edges.
TOP_RIGHT_INSIDE = [(253, 10), (282, 22), (310, 35)]
OUTSIDE = [(10, 10), (10, 230), (310, 230), (160, 120), (244, 22), (282, 44), (317, 3)]


def test_canonical_top_right_logo(alice_api, run_job, fetch_output, alice_black, alice_logo):
    params = {"image": alice_logo["id"], "position": "top-right", "scale": 0.2, "opacity": 1}
    path = watermark(alice_api, run_job, fetch_output, alice_black["id"], params)
    for at in (0.0, 1.0, 1.96):
        frame = Frame(path, at)
        assert min(frame.level(x, y) for x, y in TOP_RIGHT_INSIDE) >= BRIGHT, at
        assert max(frame.level(x, y) for x, y in OUTSIDE) <= DARK, at


def test_output_keeps_the_video_duration_frames_and_audio(
    alice_api, run_job, fetch_output, alice_black, alice_logo, black_clip_path
):
    path = watermark(alice_api, run_job, fetch_output, alice_black["id"], {"image": alice_logo["id"]})
    info = probe(path)
    assert info["format"]["format_name"].startswith("mov,mp4")
    video, audio = info["streams"]
    assert (video["codec_name"], video["width"], video["height"], video["pix_fmt"]) == ("h264", 320, 240, "yuv420p")
    assert int(video["nb_frames"]) == 50
    assert abs(float(info["format"]["duration"]) - alice_black["duration"]) <= 1 / 25

    def audio_packets(p: Path) -> str:
        return subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(p), "-map", "0:a", "-c", "copy", "-f", "hash", "-hash", "md5", "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert audio["codec_name"] == "aac"
    assert audio_packets(path) == audio_packets(black_clip_path)  # AAC fits MP4: copied, not re-encoded


def test_webm_output_is_vp9_and_opus(alice_api, run_job, fetch_output, alice_black, alice_logo):
    path = watermark(alice_api, run_job, fetch_output, alice_black["id"], {"image": alice_logo["id"], "format": "webm"})
    info = probe(path)
    assert [s["codec_name"] for s in info["streams"]] == ["vp9", "opus"]
    assert abs(float(info["format"]["duration"]) - 2.0) <= 1 / 25 + 0.007  # Opus pre-skip, see test_transcode
    frame = Frame(path, 1.0)
    # The defaults: bottom-right, 0.15 of the width (48×24), 6.4 px from the edges.
    assert frame.level(290, 222) >= BRIGHT
    assert frame.level(262, 222) <= DARK and frame.level(290, 206) <= DARK


def test_video_without_audio_gives_video_without_audio(
    alice_api, upload, run_job, fetch_output, silent_clip_path, alice_logo
):
    video = upload(alice_api, silent_clip_path)
    path = watermark(alice_api, run_job, fetch_output, video["id"], {"image": alice_logo["id"], "format": "mov"})
    info = probe(path)
    assert [s["codec_type"] for s in info["streams"]] == ["video"]
    assert info["format"]["tags"]["major_brand"].strip() == "qt"
    assert abs(float(info["format"]["duration"]) - 2.0) <= 1 / 25


@pytest.mark.parametrize(
    ("placement", "inside", "outside"),
    [
        pytest.param({"position": "top-left"}, (38, 22), (282, 22), id="top-left"),
        pytest.param({"position": "bottom-left"}, (38, 217), (38, 22), id="bottom-left"),
        pytest.param({"position": "bottom-right"}, (282, 217), (282, 22), id="bottom-right"),
        pytest.param({}, (282, 217), (38, 217), id="default-bottom-right"),
        pytest.param({"position": "center"}, (160, 120), (110, 120), id="center"),
        pytest.param({"position": "top-left", "margin": 0.25}, (100, 100), (38, 22), id="margin"),
        pytest.param({"x": 0.5, "y": 0.5}, (165, 125), (155, 115), id="x-y-top-left-corner"),
    ],
)
def test_position(alice_api, run_job, fetch_output, alice_black, alice_logo, placement, inside, outside):
    params = {"image": alice_logo["id"], "scale": 0.2, **placement}
    frame = Frame(watermark(alice_api, run_job, fetch_output, alice_black["id"], params), 1.0)
    assert frame.level(*inside) >= BRIGHT
    assert frame.level(*outside) <= DARK


def test_scale_is_relative_to_the_video_width(alice_api, run_job, fetch_output, alice_black, alice_logo):
    params = {"image": alice_logo["id"], "position": "top-left", "margin": 0, "scale": 0.5}
    frame = Frame(watermark(alice_api, run_job, fetch_output, alice_black["id"], params), 1.0)
    # 160×80: the logo's 2:1 aspect kept.
    assert frame.level(157, 77) >= BRIGHT
    assert frame.level(164, 40) <= DARK
    assert frame.level(80, 84) <= DARK


def test_scale_follows_a_rotated_video_as_played(
    alice_api, upload, run_job, fetch_output, rotated_clip_path, logo_path
):
    video, logo = upload(alice_api, rotated_clip_path), upload(alice_api, logo_path)
    params = {"image": logo["id"], "position": "top-left", "margin": 0, "scale": 0.5}
    frame = Frame(watermark(alice_api, run_job, fetch_output, video["id"], params), 1.0)
    assert (frame.width, frame.height) == (240, 320)
    # Half of the 240 px it plays at: 120×60, not half of the stored 320.
    assert frame.level(117, 57) >= BRIGHT
    assert frame.level(126, 30) <= DARK


@pytest.mark.parametrize("opacity", [0.5, 0.25])
def test_opacity_blends_the_logo(alice_api, run_job, fetch_output, alice_black, alice_logo, opacity):
    params = {"image": alice_logo["id"], "position": "top-right", "scale": 0.2, "opacity": opacity}
    frame = Frame(watermark(alice_api, run_job, fetch_output, alice_black["id"], params), 1.0)
    assert frame.level(282, 22) == pytest.approx(255 * opacity, abs=12)
    assert frame.level(10, 10) <= DARK


def test_image_transparency_is_kept(alice_api, upload, run_job, fetch_output, alice_black, half_transparent_logo_path):
    logo = upload(alice_api, half_transparent_logo_path)
    params = {"image": logo["id"], "position": "top-left", "margin": 0, "scale": 0.5}
    frame = Frame(watermark(alice_api, run_job, fetch_output, alice_black["id"], params), 1.0)
    assert frame.level(40, 40) <= DARK  # the transparent half
    assert frame.level(120, 40) >= BRIGHT


@pytest.mark.parametrize(
    ("window", "shown", "hidden"),
    [
        pytest.param({"start": 0.5, "end": 1.5}, [0.6, 1.0, 1.4], [0.0, 0.3, 1.7, 1.96], id="start-and-end"),
        pytest.param({"start": 1.0}, [1.1, 1.96], [0.0, 0.8], id="start-only"),
        pytest.param({"end": 1.0}, [0.0, 0.9], [1.2, 1.96], id="end-only"),
    ],
)
def test_time_window(alice_api, run_job, fetch_output, alice_black, alice_logo, window, shown, hidden):
    params = {"image": alice_logo["id"], "position": "top-right", "scale": 0.2, **window}
    path = watermark(alice_api, run_job, fetch_output, alice_black["id"], params)
    assert [Frame(path, at).level(282, 22) >= BRIGHT for at in shown] == [True] * len(shown)
    assert [Frame(path, at).level(282, 22) <= DARK for at in hidden] == [True] * len(hidden)
    assert abs(float(probe(path)["format"]["duration"]) - 2.0) <= 1 / 25


# --- bad requests ---------------------------------------------------------------------------------------


def submit(client, video_id: str, params: dict):
    return client.post("/api/v1/jobs", {"operation": "watermark", "input": video_id, "params": params}, format="json")


def assert_refused(response, field: str) -> list[str]:
    from jobs.models import Job

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field], error["fields"]
    assert not Job.objects.exists()
    return error["fields"][field]


def test_image_param_naming_a_video_is_refused(alice_api, upload, alice_black, clip_path):
    other_video = upload(alice_api, clip_path)
    [message] = assert_refused(submit(alice_api, alice_black["id"], {"image": other_video["id"]}), "params.image")
    assert other_video["id"] in message and "image" in message


def test_image_of_another_user_is_not_found(alice_api, bob_api, upload, alice_black, logo_path):
    bobs_logo = upload(bob_api, logo_path)
    [message] = assert_refused(submit(alice_api, alice_black["id"], {"image": bobs_logo["id"]}), "params.image")
    assert message == f"No asset {bobs_logo['id']}."


def test_unknown_image_is_not_found(alice_api, alice_black):
    assert_refused(submit(alice_api, alice_black["id"], {"image": "ast_doesnotexist"}), "params.image")


def test_image_as_the_input_is_refused(alice_api, alice_logo):
    assert_refused(submit(alice_api, alice_logo["id"], {"image": alice_logo["id"]}), "inputs.0")


INVALID = [
    pytest.param({}, "params.image", id="image-missing"),
    pytest.param({"position": "middle"}, "params.position", id="unknown-position"),
    pytest.param({"x": 0.5}, "params.y", id="x-without-y"),
    pytest.param({"y": 0.5}, "params.x", id="y-without-x"),
    pytest.param({"x": 0.5, "y": 0.5, "position": "center"}, "params.position", id="x-y-and-position"),
    pytest.param({"x": 0.5, "y": 0.5, "margin": 0.1}, "params.margin", id="x-y-and-margin"),
    pytest.param({"x": 1.5, "y": 0.5}, "params.x", id="x-out-of-range"),
    pytest.param({"scale": 0}, "params.scale", id="zero-scale"),
    pytest.param({"scale": 1.5}, "params.scale", id="scale-above-1"),
    pytest.param({"opacity": 0}, "params.opacity", id="zero-opacity"),
    pytest.param({"opacity": 1.2}, "params.opacity", id="opacity-above-1"),
    pytest.param({"margin": 0.6}, "params.margin", id="margin-too-big"),
    pytest.param({"start": 2, "end": 1}, "params.end", id="end-before-start"),
    pytest.param({"format": "avi"}, "params.format", id="unknown-format"),
    pytest.param({"preset": "instant"}, "params.preset", id="unknown-preset"),
    pytest.param({"rotate": 90}, "params.rotate", id="unknown-field"),
]


@pytest.mark.parametrize(("params", "field"), INVALID)
def test_invalid_params_give_400_naming_the_field(alice_api, alice_black, alice_logo, params, field):
    body = {"image": alice_logo["id"], **params} if field != "params.image" else params
    messages = assert_refused(submit(alice_api, alice_black["id"], body), field)
    assert all(isinstance(message, str) and message for message in messages)


def test_catalog_lists_watermark_with_its_image_param(alice_api):
    operations = {op["name"]: op for op in alice_api.get("/api/v1/operations").json()["results"]}
    entry = operations["watermark"]
    assert entry["inputs"] == {"min": 1, "max": 1, "kinds": ["video"]}
    assert entry["asset_params"] == {"image": ["image"]}
    properties = entry["params_schema"]["properties"]
    assert {"image", "position", "margin", "x", "y", "scale", "opacity", "start", "end", "format"} <= set(properties)
    [position] = [choice for choice in properties["position"]["anyOf"] if "enum" in choice]
    assert set(position["enum"]) == {"top-left", "top-right", "bottom-left", "bottom-right", "center"}
    assert entry["params_schema"]["required"] == ["image"]
