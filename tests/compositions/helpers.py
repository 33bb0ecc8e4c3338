"""Shared by the composition tests: render through the API, read frames, OCR, measure loudness, make media.

The "ramp" clip's brightness encodes its own time (luma rises 50 per second), so the brightness of an output frame
says which source moment it shows."""

import re
import subprocess
from pathlib import Path

from tests.media import ffmpeg, probe, streams
from tests.tools import require

FPS = 25
FRAME = 1 / FPS
FAST = {"resolution": "360p", "quality": "low", "fps": FPS}


# --- shared helpers (the other tests/compositions modules import these) -------------------------------------


def compose(client, capture, body: dict, *, status: str = "succeeded") -> dict:
    """POST the composition, run its job inline, and return the composition once it finished in `status`."""
    with capture(execute=True):
        response = client.post("/api/v1/compositions", body, format="json")
    assert response.status_code == 202, response.content
    done = client.get(f"/api/v1/compositions/{response.json()['id']}").json()
    assert done["status"] == status, done["error"]
    return done


def render(client, capture, fetch, body: dict) -> Path:
    """The rendered file of a composition that succeeded."""
    return fetch(compose(client, capture, body)["output"], client)


def problem(client, body: dict) -> dict:
    """The 400 answer to an invalid composition: its error's `fields`."""
    response = client.post("/api/v1/compositions", body, format="json")
    assert response.status_code == 400, response.content
    return response.json()["error"].get("fields", {})


def video_duration(path: Path) -> float:
    video = streams(probe(path), "video")[0]
    return float(video["duration"])


def audio_duration(path: Path) -> float:
    audio = streams(probe(path), "audio")[0]
    return float(audio["duration"])


def size(path: Path) -> tuple[int, int]:
    video = streams(probe(path), "video")[0]
    return video["width"], video["height"]


class Frame:
    """One decoded frame as 8-bit luma."""

    def __init__(self, pixels: bytes, width: int, height: int):
        self.pixels, self.width, self.height = pixels, width, height

    def at(self, x: int, y: int) -> int:
        return self.pixels[y * self.width + x]

    def region(self, left: int, top: int, right: int, bottom: int) -> list[int]:
        """The luma values of the rectangle [left, right) × [top, bottom)."""
        return [v for y in range(top, bottom) for v in self.pixels[y * self.width + left : y * self.width + right]]

    def mean(self, *box: int) -> float:
        values = self.region(*box) if box else self.pixels
        return sum(values) / len(values)

    def bright(self, threshold: int = 128) -> list[tuple[int, int]]:
        """(x, y) of every pixel brighter than `threshold`."""
        w = self.width
        return [(i % w, i // w) for i, v in enumerate(self.pixels) if v > threshold]

    def bbox(self, threshold: int = 128) -> tuple[int, int, int, int] | None:
        """(left, top, right, bottom) around the bright pixels, right/bottom exclusive; None if there are none."""
        points = self.bright(threshold)
        if not points:
            return None
        xs, ys = [x for x, _ in points], [y for _, y in points]
        return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def frame(path: Path, at: float | None) -> Frame:
    """The frame shown at `at` seconds (None: a picture's only frame), as luma."""
    width, height = size(path)
    seek = ["-ss", f"{at:.3f}"] if at is not None else []
    out = subprocess.run(
        ["ffmpeg", "-v", "error", *seek, "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert len(out) == width * height, f"no frame at {at} s"
    return Frame(out, width, height)


def png(path: Path, at: float, target: Path) -> Path:
    ffmpeg("-ss", f"{at:.3f}", "-i", str(path), "-frames:v", "1", str(target))
    return target


def ocr(image: Path) -> str:
    """The text tesseract reads in a PNG."""
    tesseract = require("tesseract", "tesseract-ocr")
    done = subprocess.run([tesseract, str(image), "-", "--psm", "6"], capture_output=True, text=True, check=True)
    return done.stdout


def mean_volume(path: Path, start: float, end: float, audio_filter: str = "") -> float:
    """volumedetect's mean volume (dB) of the audio between `start` and `end`, after `audio_filter`."""
    chain = f"atrim={start}:{end}" + (f",{audio_filter}" if audio_filter else "") + ",volumedetect"
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-af", chain, "-vn", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"mean_volume: (-?[\d.]+|-inf) dB", done.stderr)
    assert found, done.stderr[-2000:]
    return float(found.group(1))


# --- media ------------------------------------------------------------------------------------------------


def make_ramp(path: Path, *, seconds: float = 4) -> Path:
    """320×240 grey whose luma is 20 + 50·t (its own time, readable from any frame), with a 440 Hz tone that
    sounds only from 2 s on (so a retimed clip shows where its audio went)."""
    video = f"color=c=black:s=320x240:r={FPS}:d={seconds},format=yuv420p,geq=lum='20+50*T':cb=128:cr=128"
    audio = f"aevalsrc='0.25*sin(2*PI*440*t)*gte(t,2)':s=48000:d={seconds}"
    ffmpeg(
        *("-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(FPS), "-c:a", "aac"),
        *("-shortest", str(path)),
    )
    return path


def make_picture(path: Path) -> Path:
    """A detailed 320×240 PNG (a test pattern), so a zoom changes its pixels."""
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=1", "-frames:v", "1", str(path))
    return path
