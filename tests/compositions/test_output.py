"""Output settings on real renders: container and codecs per format, frame size from resolution and aspect ratio
or width/height, frame rate, a poster, and how each fit mode puts a 4:3 picture into a 16:9 frame."""

from pathlib import Path

import pytest

from compositions.spec import Output
from tests.compositions.helpers import compose, frame, render, size
from tests.media import decode_errors, ffmpeg, make_clip, probe, streams

FAST = {"resolution": "360p", "quality": "low", "fps": 25}


@pytest.fixture(scope="session")
def one_second_path(media_dir) -> Path:
    return make_clip(media_dir / "one-second.mp4", seconds=1)


@pytest.fixture
def clip(alice_api, upload, one_second_path) -> dict:
    return upload(alice_api, one_second_path)


@pytest.fixture(scope="session")
def framed_path(media_dir) -> Path:
    """A 4:3 (320×240) mid-grey picture with a white band along its top (24 rows) and its left side (32
    columns): where the bands land in a 16:9 frame tells crop, pad and stretch apart."""
    path = media_dir / "framed.mp4"
    picture = (
        "color=c=0x808080:s=320x240:r=25:d=1,format=yuv420p,"
        "drawbox=x=0:y=0:w=320:h=24:c=white:t=fill,drawbox=x=0:y=0:w=32:h=240:c=white:t=fill"
    )
    ffmpeg("-f", "lavfi", "-i", picture, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


@pytest.mark.parametrize(
    ("output", "container", "video_codec", "audio_codec"),
    [
        ({"format": "mp4"}, "isom", "h264", "aac"),
        ({"format": "mov"}, "qt  ", "h264", "aac"),
        ({"format": "mov", "codec": "prores"}, "qt  ", "prores", "pcm_s16le"),
        ({"format": "webm"}, "webm", "vp9", "opus"),
    ],
)
def test_format_and_codecs(
    output, container, video_codec, audio_codec, alice_api, clip, fetch_output, django_capture_on_commit_callbacks
):
    body = {"title": "Formats", "clips": [{"asset": clip["id"]}], "output": {**FAST, **output}}
    done = compose(alice_api, django_capture_on_commit_callbacks, body)
    assert done["output"]["name"] == f"Formats.{output['format']}"
    out = fetch_output(done["output"])
    info = probe(out)
    if container == "webm":
        assert "webm" in info["format"]["format_name"]
    else:
        assert info["format"]["tags"]["major_brand"] == container
    (video,), (audio,) = streams(info, "video"), streams(info, "audio")
    assert (video["codec_name"], audio["codec_name"]) == (video_codec, audio_codec)
    assert (video["width"], video["height"]) == (640, 360)
    assert video["r_frame_rate"] == "25/1"
    if video_codec == "prores":
        assert video["codec_tag_string"] == "apco"  # prores_ks, the "low" quality's Proxy profile
    assert decode_errors(out) == ""


@pytest.mark.parametrize(
    ("aspect_ratio", "expected"),
    [("16:9", (640, 360)), ("9:16", (360, 640)), ("1:1", (360, 360)), ("4:5", (360, 450))],
)
def test_resolution_is_the_short_side_at_the_aspect_ratio(
    aspect_ratio, expected, alice_api, clip, fetch_output, django_capture_on_commit_callbacks
):
    body = {"clips": [{"asset": clip["id"]}], "output": {**FAST, "aspect_ratio": aspect_ratio}}
    done = compose(alice_api, django_capture_on_commit_callbacks, body)
    out = fetch_output(done["output"])
    assert size(out) == expected
    assert (done["result"]["width"], done["result"]["height"]) == expected
    assert decode_errors(out) == ""


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"resolution": "1080p", "aspect_ratio": "9:16"}, (1080, 1920)),
        ({"resolution": "720p"}, (1280, 720)),
        ({}, (1280, 720)),
        ({"resolution": "4k"}, (3840, 2160)),
        ({"resolution": "480p", "aspect_ratio": "4:5"}, (480, 600)),
        ({"width": 500, "height": 200, "aspect_ratio": "9:16"}, (500, 200)),
    ],
)
def test_frame_size_rules(output, expected):
    assert Output.model_validate(output).size == expected


def test_width_height_and_fps(alice_api, clip, fetch_output, django_capture_on_commit_callbacks):
    body = {"clips": [{"asset": clip["id"]}], "output": {"width": 320, "height": 176, "fps": 15, "quality": "low"}}
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    (video,) = streams(probe(out), "video")
    assert (video["width"], video["height"]) == (320, 176)
    assert video["r_frame_rate"] == "15/1"
    assert int(video["nb_frames"]) == 15
    assert decode_errors(out) == ""


@pytest.mark.parametrize(
    ("output", "path"),
    [
        ({"width": 321, "height": 240}, "output.width"),
        ({"width": 320}, "output.width"),
        ({"resolution": "720p", "width": 320, "height": 240}, "output.resolution"),
        ({"format": "webm", "codec": "h264"}, "output.codec"),
        ({"format": "mp4", "codec": "prores"}, "output.codec"),
        ({"fps": 0}, "output.fps"),
        ({"format": "avi"}, "output.format"),
    ],
)
def test_invalid_output_names_the_field(output, path, alice_api, clip):
    response = alice_api.post("/api/v1/compositions", {"clips": [{"asset": clip["id"]}], "output": output}, "json")
    assert response.status_code == 400
    assert path in response.json()["error"]["fields"]


def test_poster(alice_api, clip, fetch_output, django_capture_on_commit_callbacks):
    body = {"title": "With poster", "clips": [{"asset": clip["id"]}], "output": {**FAST, "poster": 0.5}}
    done = compose(alice_api, django_capture_on_commit_callbacks, body)
    assert done["poster"]["kind"] == "image"
    poster = fetch_output(done["poster"])
    (picture,) = streams(probe(poster), "video")
    assert (picture["codec_name"], picture["width"], picture["height"]) == ("mjpeg", 640, 360)
    assert decode_errors(poster) == ""
    assert frame(poster, None).mean() > 40  # the test pattern, not a black frame


def test_fit_modes(alice_api, upload, framed_path, fetch_output, django_capture_on_commit_callbacks):
    """One render, one 0.5 s clip per fit mode: a 4:3 picture (320×240 grey, white top and left bands) in 640×360."""
    framed = upload(alice_api, framed_path)
    modes = ["cover", "contain", "contain-blur", "stretch"]
    body = {
        "clips": [{"asset": framed["id"], "duration": 0.5, "fit": mode} for mode in modes],
        "output": FAST,
    }
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    assert decode_errors(out) == ""
    cover, contain, blur, stretch = (frame(out, 0.25 + 0.5 * i) for i in range(4))
    left_edge, right_edge = (0, 100, 8, 260), (632, 100, 640, 260)  # 8 px wide strips at mid-height
    top_middle = (300, 2, 340, 20)  # the top rows, horizontally centred

    # cover: scaled to 640×480 and cropped top and bottom: no bars, the left band in, the top band cropped off.
    assert cover.mean(*left_edge) > 200 and 100 < cover.mean(*right_edge) < 160
    assert 100 < cover.mean(*top_middle) < 160
    # contain: scaled to 480×360 and padded: black bars of 80 px each side, the top band kept.
    assert max(contain.region(0, 0, 76, 360)) < 25 and max(contain.region(564, 0, 640, 360)) < 25
    assert contain.mean(*top_middle) > 200
    assert contain.mean(84, 100, 92, 260) > 200  # the left band, just inside the bar
    # contain-blur: the same picture, over a blurred and filled copy of itself instead of black bars.
    assert min(blur.region(0, 0, 76, 360)) > 40 and min(blur.region(564, 0, 640, 360)) > 40
    assert blur.mean(*top_middle) > 200
    # stretch: the whole picture fills the frame, distorted: both bands in, no bars.
    assert stretch.mean(*left_edge) > 200 and stretch.mean(*top_middle) > 200
    assert 100 < stretch.mean(*right_edge) < 160
