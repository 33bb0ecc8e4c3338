"""Overlays on real renders: text read back with tesseract, its timing and placement from the frame's pixels,
box, stroke and fades, text that looks like FFmpeg syntax drawn literally, merge fields, image overlays and
burned-in captions. White on a black 640×360 clip, so every bright pixel is an overlay's."""

import subprocess
from pathlib import Path

import pytest

from tests.compositions.helpers import Frame, compose, frame, ocr, png, render
from tests.media import ffmpeg

FAST = {"resolution": "360p", "quality": "low", "fps": 25}


@pytest.fixture(scope="session")
def black_path(media_dir) -> Path:
    path = media_dir / "black.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=640x360:r=25:d=5", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


@pytest.fixture
def black(alice_api, upload, black_path) -> dict:
    return upload(alice_api, black_path)


@pytest.fixture
def overlaid(alice_api, black, fetch_output, django_capture_on_commit_callbacks):
    """overlaid(seconds, overlays, **spec) → the render of `seconds` of black under `overlays`."""

    def _render(seconds: float, overlays: list[dict], **spec) -> Path:
        body = {"clips": [{"asset": black["id"], "end_time": seconds}], "overlays": overlays, "output": FAST, **spec}
        return render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)

    return _render


def count(frame_: Frame, low: int, high: int) -> int:
    return sum(1 for value in frame_.pixels if low <= value <= high)


def test_text_is_drawn_from_start_time_with_merge_fields(overlaid, tmp_path):
    text = {"text": "HELLO {{NAME}}", "font_size": 64, "start_time": 1, "end_time": 2.5}
    out = overlaid(3, [text], merge={"NAME": "WORLD"})
    read = ocr(png(out, 1.5, tmp_path / "on.png"))
    assert "HELLO WORLD" in read, read
    assert frame(out, 0.5).bbox() is None  # nothing before start_time
    assert frame(out, 2.8).bbox() is None  # nor after end_time


def test_merge_fields_are_filled_in_the_stored_spec(alice_api, black, django_capture_on_commit_callbacks):
    body = {
        "clips": [{"asset": black["id"], "end_time": 0.5}],
        "overlays": [{"text": "Hi {{ NAME }}, {{MISSING}}"}],
        "merge": {"NAME": "Ada"},
        "output": FAST,
    }
    done = compose(alice_api, django_capture_on_commit_callbacks, body)
    assert done["spec"]["overlays"][0]["text"] == "Hi Ada, {{MISSING}}"


THIRDS = {"left": 0, "top": 0, "center": 1, "right": 2, "bottom": 2}
POSITIONS = ["top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right"]


def test_position_presets_put_the_text_in_their_third(overlaid):
    """Each preset shown in turn for 0.4 s: its bright pixels' centre lies in the preset's third of the frame."""
    overlays = [
        {"text": "XO", "font_size": 48, "position": position, "start_time": 0.4 * i, "end_time": 0.4 * i + 0.4}
        for i, position in enumerate(POSITIONS)
    ]
    overlays.append({"text": "XO", "font_size": 48, "x": 0.5, "y": 0.25, "start_time": 3.6, "end_time": 4})
    out = overlaid(4, overlays)
    for i, position in enumerate(POSITIONS):
        parts = position.split("-")
        column = THIRDS[next((p for p in parts if p in ("left", "right")), "center")]
        row = THIRDS[next((p for p in parts if p in ("top", "bottom")), "center")]
        left, top, right, bottom = frame(out, 0.4 * i + 0.2).bbox()
        assert int((left + right) / 2 / (640 / 3)) == column, (position, left, right)
        assert int((top + bottom) / 2 / (360 / 3)) == row, (position, top, bottom)
    left, top, _, _ = frame(out, 3.8).bbox()
    assert 320 <= left <= 326 and 90 <= top <= 105  # x/y are the text box's top-left corner, as fractions


def test_background_box_stroke_and_fades(overlaid):
    sample = {"text": "SAMPLE", "font_size": 56}
    out = overlaid(
        5,
        [
            {**sample, "start_time": 0, "end_time": 1},
            {**sample, "start_time": 1, "end_time": 2, "background": {"color": "#808080", "opacity": 1, "padding": 20}},
            {**sample, "start_time": 2, "end_time": 3, "stroke": {"color": "#808080", "width": 6}},
            {**sample, "start_time": 3, "end_time": 5, "fade_in": 1, "fade_out": 1},
        ],
    )
    plain, boxed, stroked = frame(out, 0.5), frame(out, 1.5), frame(out, 2.5)
    grey = count(plain, 90, 170)
    assert count(boxed, 100, 160) > grey + 10000  # a grey box around the text
    left, top, right, bottom = plain.bbox()
    assert boxed.mean(left - 15, top - 15, left - 5, bottom + 15) > 100  # inside the padding, left of the text
    assert count(stroked, 90, 170) > 3 * grey  # a grey outline around every letter
    assert stroked.bbox(60) != plain.bbox(60)  # and wider than the letters alone
    faded_in, full, fading_out = frame(out, 3.2), frame(out, 4.0), frame(out, 4.88)
    assert max(full.pixels) > 200
    assert max(faded_in.pixels) < 0.5 * max(full.pixels)
    assert max(fading_out.pixels) < 0.5 * max(full.pixels)


def drawtext_reference(text: str, font_size: int, workdir: Path) -> Frame:
    """`text` drawn by drawtext from a file with expansion off (the literal way), white on black 640×360."""
    textfile = workdir / "reference.txt"
    textfile.write_text(text, encoding="utf-8")
    draw = f"drawtext=textfile={textfile}:expansion=none:font=DejaVu Sans:fontsize={font_size}"
    draw += ":fontcolor=white:x=20:y=20"
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=640x360:d=0.04", "-vf", draw]
        + ["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return Frame(out, 640, 360)


def crop(frame_: Frame) -> tuple[int, int, list[int]]:
    left, top, right, bottom = frame_.bbox(100)
    return right - left, bottom - top, frame_.region(left, top, right, bottom)


def test_text_that_looks_like_ffmpeg_syntax_is_drawn_literally(overlaid, tmp_path):
    """Quotes, colons, percent signs, backslashes, drawtext's %{pts}, graph separators and an emoji: the
    rendered glyphs match drawtext's literal rendering of the same text, and differ from the text altered."""
    text = 'It\'s "q" a:b 50% \\n %{pts} [x];y 😀'
    out = overlaid(1, [{"text": text, "font_size": 28}])
    rendered = frame(out, 0.5)
    width, height, pixels = crop(rendered)
    ref_width, ref_height, ref_pixels = crop(drawtext_reference(text, 28, tmp_path))
    assert abs(width - ref_width) <= 2 and abs(height - ref_height) <= 2, ((width, height), (ref_width, ref_height))
    if (width, height) == (ref_width, ref_height):
        assert sum(abs(a - b) for a, b in zip(pixels, ref_pixels, strict=True)) / len(pixels) < 8
    for altered in (text.replace("\\", ""), text.replace("%{pts}", "0.000000"), text.replace(":", "")):
        assert abs(crop(drawtext_reference(altered, 28, tmp_path))[0] - width) > 4, altered
    read = ocr(png(out, 0.5, tmp_path / "literal.png"))
    for part in ("It's", '"q"', "a:b", "50%", "\\n", "%{pts}"):  # tesseract reads the ASCII back verbatim
        assert part in read, (part, read)


def test_image_overlay_changes_only_its_box(alice_api, upload, fetch_output, media_dir,
                                            django_capture_on_commit_callbacks):  # fmt: skip
    """A white square over mid-grey from 1 s: the pixels that change are exactly the square's box, bottom-right,
    0.2 of the width wide; a half-opaque copy top-left lands half way between grey and white."""
    grey, square = media_dir / "grey.mp4", media_dir / "square.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=0x808080:s=640x360:r=25:d=2", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(grey))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "color=c=white:s=100x100", "-frames:v", "1", str(square))
    base, picture = upload(alice_api, grey), upload(alice_api, square)
    overlays = [
        {"type": "image", "asset": picture["id"], "position": "bottom-right", "start_time": 1},
        {"type": "image", "asset": picture["id"], "position": "top-left", "start_time": 1, "opacity": 0.5},
    ]
    body = {"clips": [{"asset": base["id"]}], "overlays": overlays, "output": FAST}
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    before, after = frame(out, 0.5), frame(out, 1.5)
    changed = [(i % 640, i // 640) for i, (a, b) in enumerate(zip(before.pixels, after.pixels, strict=True))
               if abs(a - b) > 20]  # fmt: skip
    margin, side = round(0.04 * 360), 128  # the position margin; 0.2 × 640 wide, square

    def box(points):
        xs, ys = [x for x, _ in points], [y for _, y in points]
        return min(xs), min(ys), max(xs) + 1, max(ys) + 1

    right, left = [p for p in changed if p[0] >= 320], [p for p in changed if p[0] < 320]
    for found, expected in (
        (box(right), (640 - margin - side, 360 - margin - side, 640 - margin, 360 - margin)),
        (box(left), (margin, margin, margin + side, margin + side)),
    ):
        assert all(abs(a - b) <= 2 for a, b in zip(found, expected, strict=True)), (found, expected)
    assert len(changed) >= 2 * 0.98 * side * side
    assert after.mean(520, 240, 600, 320) > 225  # opaque white
    half = after.mean(margin + 10, margin + 10, margin + side - 10, margin + side - 10)
    assert abs(half - (before.mean() + 235) / 2) < 12, half


SRT = "1\n00:00:00,500 --> 00:00:01,500\nCAPTION TEXT\n\n2\n00:00:02,500 --> 00:00:02,900\nSECOND\n"


def test_captions_are_burned_in_during_their_cues(alice_api, upload, black, fetch_output, tmp_path,
                                                  django_capture_on_commit_callbacks):  # fmt: skip
    srt = tmp_path / "captions.srt"
    srt.write_text(SRT)
    captions = upload(alice_api, srt)
    assert captions["kind"] == "subtitle"
    body = {"clips": [{"asset": black["id"], "end_time": 3.5}], "captions": {"asset": captions["id"]}, "output": FAST}
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    _, top, _, _ = frame(out, 1.0).bbox()
    assert top > 240  # in the bottom third
    assert "CAPTION TEXT" in ocr(png(out, 1.0, tmp_path / "cue.png"))
    assert frame(out, 2.7).bbox() is not None
    for outside in (0.2, 2.0, 3.2):
        assert frame(out, outside).bbox() is None, outside
