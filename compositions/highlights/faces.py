"""Frontal faces in analysis frames (OpenCV's Haar cascade: shipped in the wheel, no model download) and how
much a face's mouth moves between two frames, which tells the speaker among several faces."""

import functools
from dataclasses import dataclass

import cv2
import numpy as np

# Faces smaller than this share of the frame's short side are too far away to frame a speaker on; the bound
# also skips the cascade's smallest (most expensive, most error-prone) scales.
MIN_FACE_SHARE = 1 / 12
MIN_FACE_PX = 20  # the cascade's own window is 24 px; below this nothing is reliable


@dataclass(frozen=True)
class Face:
    x: float
    y: float
    w: float
    h: float
    score: float = 0.0  # the cascade's neighbour count: more overlapping hits, more certain

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def scaled(self, factor: float) -> "Face":
        return Face(self.x * factor, self.y * factor, self.w * factor, self.h * factor, self.score)


@functools.cache
def _cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    if cascade.empty():
        raise RuntimeError("OpenCV's frontal-face cascade is missing from cv2.data.haarcascades")
    return cascade


def detect_faces(gray: np.ndarray) -> list[Face]:
    """Frontal faces in a grayscale uint8 frame, in its pixels, most certain first."""
    side = max(MIN_FACE_PX, round(min(gray.shape) * MIN_FACE_SHARE))
    # No histogram equalisation: on frames with large saturated areas it flattens the face's contrast and
    # loses it (measured on the test pattern), while the cascade's features are already contrast-normalised.
    # Scale steps of 15 %: a third cheaper than 10 % (measured 23 against 32 ms of CPU at 480×270) and, on the
    # astronaut photo, without the 10 % steps' false box beside her face.
    boxes, hits = _cascade().detectMultiScale2(gray, scaleFactor=1.15, minNeighbors=5, minSize=(side, side))
    faces = [
        Face(float(x), float(y), float(w), float(h), float(n)) for (x, y, w, h), n in zip(boxes, hits, strict=True)
    ]
    return sorted(faces, key=lambda face: -face.score)


def mouth_motion(previous: np.ndarray, current: np.ndarray, face: Face) -> float:
    """How much the mouth moves between two frames: mean absolute difference in the lower middle of the face
    box, less that of the upper face, so that a head moving or a light changing does not count as talking."""
    x0, y0, x1, y1 = (round(v) for v in (face.x, face.y, face.x + face.w, face.y + face.h))
    x0, y0 = max(x0, 0), max(y0, 0)
    lower = (slice(y0 + (y1 - y0) * 2 // 3, y1), slice(x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4))
    upper = (slice(y0, y0 + (y1 - y0) // 2), slice(x0, x1))
    return max(0.0, _mean_difference(previous, current, lower) - _mean_difference(previous, current, upper))


def _mean_difference(previous: np.ndarray, current: np.ndarray, region: tuple[slice, slice]) -> float:
    a, b = previous[region], current[region]
    return float(cv2.absdiff(a, b).mean()) if a.size else 0.0
