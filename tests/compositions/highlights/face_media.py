"""Test video with faces on known paths: the face of skimage's astronaut photo over a test pattern, 640×360 at
25 fps, with hard cuts and a "talking" mouth (an opening dark ellipse), encoded by piping raw frames to FFmpeg."""

import functools
import math
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage import data

SIZE = (640, 360)
FPS = 25
FACE_SCALE = 0.7
SWAY = 6
_MOUTH = (93, 125)  # the mouth's centre in the unscaled face patch below
# The centre of the cascade's face box in that patch (the photo's face box, 177,66 95×95, less the patch origin)
# differs from the patch's centre: the face sits right of the patch's middle.
FACE_OFFSET = ((177 + 95 / 2 - 130 - 80) * FACE_SCALE, (66 + 95 / 2 - 20 - 90) * FACE_SCALE)


@dataclass(frozen=True)
class Actor:
    cx: float  # where the face patch's centre is, source pixels
    cy: float
    talking: bool = False


@dataclass(frozen=True)
class Scene:
    duration: float
    actors: Callable[[float], list[Actor]]
    cuts: tuple[float, ...] = ()


@functools.cache
def _face(mouth_open: float) -> np.ndarray:
    patch = data.astronaut()[20:200, 130:290].copy()
    cv2.ellipse(patch, _MOUTH, (20, round(2 + mouth_open * 8)), 0, 0, 360, (70, 20, 25), -1)
    return cv2.resize(patch, None, fx=FACE_SCALE, fy=FACE_SCALE, interpolation=cv2.INTER_AREA)


@functools.cache
def _background(shot: int) -> np.ndarray:
    """Colour bars over a diagonal gradient and a checkerboard; each shot rolls it so a cut looks like one."""
    width, height = SIZE
    yy, xx = np.mgrid[0:height, 0:width]
    bars = np.array([[192, 192, 192], [192, 192, 0], [0, 192, 192], [0, 192, 0], [192, 0, 192], [192, 0, 0]])
    image = bars[(xx * len(bars) // width)].astype(float)
    image *= (0.5 + 0.5 * (xx + yy) / (width + height))[..., None]
    image[((xx // 40 + yy // 40) % 2 == 0) & (yy > height * 3 // 4)] = 40
    return np.roll(image.astype(np.uint8), shot * 170, axis=1)


def render(scene: Scene, t: float) -> np.ndarray:
    frame = _background(sum(cut <= t for cut in scene.cuts)).copy()
    for actor in scene.actors(t):
        face = _face(round(abs(math.sin(2 * math.pi * 3 * t)), 1) if actor.talking else 0.0)
        h, w = face.shape[:2]
        x, y = round(actor.cx - w / 2), round(actor.cy - h / 2)
        frame[y : y + h, x : x + w] = face
    return frame


def write_video(path: Path, scene: Scene) -> Path:
    width, height = SIZE
    encode = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
        + ["-s", f"{width}x{height}", "-r", str(FPS), "-i", "pipe:0"]
        + ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p", str(path)],
        stdin=subprocess.PIPE,
    )
    for n in range(round(scene.duration * FPS)):
        encode.stdin.write(render(scene, n / FPS).tobytes())
    encode.stdin.close()
    assert encode.wait() == 0
    return path


def analysis_frames(path: Path, *, fps: float = 4, width: int = 480) -> Iterator[tuple[float, np.ndarray]]:
    """(t, grayscale frame `width` px wide) a few times a second, as the highlight renderer samples a clip."""
    height = round(width * SIZE[1] / SIZE[0] / 2) * 2
    decode = subprocess.run(
        ["ffmpeg", "-hide_banner", "-v", "error", "-i", str(path)]
        + ["-vf", f"fps={fps},scale={width}:{height},format=gray", "-f", "rawvideo", "pipe:1"],
        capture_output=True,
        check=True,
    )
    frames = np.frombuffer(decode.stdout, np.uint8).reshape(-1, height, width)
    return ((n / fps, frame) for n, frame in enumerate(frames))


def gray_frames(path: Path, times: list[float]) -> list[np.ndarray]:
    """Full-size grayscale frames of a video at the given times (to check where a face ended up)."""
    frames = []
    for t in times:
        done = subprocess.run(
            ["ffmpeg", "-hide_banner", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1"]
            + ["-f", "image2pipe", "-c:v", "png", "pipe:1"],
            capture_output=True,
            check=True,
        )
        frames.append(cv2.imdecode(np.frombuffer(done.stdout, np.uint8), cv2.IMREAD_GRAYSCALE))
    return frames


def _lerp(t: float, t0: float, t1: float, v0: float, v1: float) -> float:
    return v0 + (v1 - v0) * min(max((t - t0) / (t1 - t0), 0.0), 1.0)


def moving_x(t: float) -> float:
    """Still at 200 until 1.5 s, glides to 440 by 3.5 s, still until the cut at 4.5 s, then still at 150."""
    return 150.0 if t >= 4.5 else _lerp(t, 1.5, 3.5, 200, 440)


def sway(t: float) -> float:
    """A still speaker is never quite still: ±SWAY px of head motion on top of the path."""
    return SWAY * math.sin(2 * math.pi * 0.7 * t)


MOVING = Scene(6.0, lambda t: [Actor(moving_x(t) + sway(t), 180)], cuts=(4.5,))
# Two faces; the right one talks for 3.5 s, then the left one.
TALKING = Scene(7.0, lambda t: [Actor(160, 180, talking=t >= 3.5), Actor(480, 180, talking=t < 3.5)])
# The right face talks throughout but for 0.75 s, when the left one says a few words: long enough to win a
# rule without hysteresis, too short for ours.
INTERJECTION = Scene(
    4.0, lambda t: [Actor(160, 180, talking=2.0 <= t < 2.75), Actor(480, 180, talking=not 2.0 <= t < 2.75)]
)
EMPTY = Scene(2.0, lambda t: [])
