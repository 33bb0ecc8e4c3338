"""Reframing a landscape clip to a vertical or square crop that follows the speaker's face.

`plan_crop` turns analysis frames into a crop path: faces are detected, tracked shot by shot, the speaker is
picked by mouth motion, and the window follows them with a dead zone and a critically damped, speed-bounded
easing, jumping (never easing) at shot cuts and speaker changes. `crop_filter` applies the path in FFmpeg."""

import bisect
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from compositions.highlights.faces import Face, detect_faces, mouth_motion
from jobs.ffmpeg.filtergraph import filter_path

DEAD_ZONE = 0.1  # the face may drift this share of the window's size either side of its centre: no motion
SMOOTH_TIME = 0.3  # s, the follow's time constant: it settles in about three of these
MAX_SPEED = 1.5  # window sizes per second: a fast face is followed at a calm, bounded pace
STEP = 0.05  # s between computed positions; FFmpeg interpolates linearly between the kept ones
SETTLED = 2.0  # px (and px/s): closer than one even step, the window snaps to its goal and stops
TOLERANCE = 1.0  # px: positions on a straight line within this are dropped from the path
HEADROOM = 0.4  # where the face's centre sits in the window's height, when the window can move vertically
MIN_HITS = 2  # a track seen fewer times is a false positive
MAX_GAP = 1.0  # s a track survives without a detection (a turned head, a missed frame)
MATCH = 0.75  # a detection continues a track whose face centre is within this many face widths
ACTIVITY = 0.35  # weight of the newest mouth motion in a track's running mean
SWITCH_RATIO = 1.5  # the speaker changes when another mouth moves this many times more, …
SWITCH_FLOOR = 1.0  # … and this many grey levels more (still faces, compression noise never win), …
SWITCH_AFTER = 0.75  # … for this long without a break: a word from the other face does not move the window
LOOKAHEAD = 1.0  # s of mouth motion compared to pick the first speaker of a shot


@dataclass
class CropPath:
    """The crop window's size and its top-left corner over time, in source pixels, times from the clip's start.

    Two points with the same time are a jump (a cut, a speaker change); between points the window moves
    linearly; before the first and after the last it stays put. `layout` is "track" (a face is followed) or
    "center" (no face anywhere: a centre crop)."""

    width: int
    height: int
    points: list[tuple[float, float, float]]
    layout: str

    def at(self, t: float) -> tuple[float, float]:
        """The window's top-left at time t (after a jump at t, its new place)."""
        times = [p[0] for p in self.points]
        i = bisect.bisect_right(times, t)
        if i == 0:
            return self.points[0][1:]
        if i == len(self.points):
            return self.points[-1][1:]
        (t0, x0, y0), (t1, x1, y1) = self.points[i - 1], self.points[i]
        k = (t - t0) / (t1 - t0)
        return x0 + (x1 - x0) * k, y0 + (y1 - y0) * k


@dataclass
class _Sample:
    t: float
    faces: list[Face]  # source pixels
    motions: list[float | None]  # mouth motion per face; None on a shot's first frame (nothing to compare)


@dataclass
class _Track:
    faces: dict[int, Face] = field(default_factory=dict)  # sample index → face
    motions: dict[int, float] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return next(iter(self.faces))  # samples are added in order

    @property
    def last(self) -> int:
        return next(reversed(self.faces))

    def face_at(self, k: int) -> Face:
        """The latest detection at or before sample k: a missed frame holds the face where it was."""
        return self.faces[max(i for i in self.faces if i <= k)]


def window_size(source_size: tuple[int, int], aspect: tuple[int, int]) -> tuple[int, int]:
    """The largest window of `aspect` inside the source, in even pixels (4:2:0 video needs them)."""
    width, height = source_size
    a, b = aspect
    if width * b >= height * a:
        h = height // 2 * 2
        return int(h * a / b) // 2 * 2, h
    w = width // 2 * 2
    return w, int(w * b / a) // 2 * 2


def plan_crop(
    frames: Iterable[tuple[float, np.ndarray]],
    *,
    source_size: tuple[int, int],
    aspect: tuple[int, int],
    cuts: Sequence[float] = (),
) -> CropPath:
    """The crop path for a clip from its grayscale analysis frames `(t, frame)` (any size of the source's
    aspect, a few per second) and its shot cuts; the source frames are `source_size` (width, height)."""
    width, height = window_size(source_size, aspect)
    cuts = sorted(cuts)
    shots: dict[int, list[_Sample]] = {}
    previous: tuple[int, np.ndarray] | None = None
    for t, frame in frames:
        shot = bisect.bisect_right(cuts, t)
        faces = detect_faces(frame)
        comparable = previous is not None and previous[0] == shot and previous[1].shape == frame.shape
        motions = [mouth_motion(previous[1], frame, face) if comparable else None for face in faces]
        scale = source_size[0] / frame.shape[1]
        shots.setdefault(shot, []).append(_Sample(t, [face.scaled(scale) for face in faces], motions))
        previous = shot, frame

    follow = _Follow(width, height, source_size)
    points: list[tuple[float, float, float]] = []
    tracked = False
    for shot, samples in sorted(shots.items()) or [(0, [])]:  # no frames at all: a centre crop
        start = cuts[shot - 1] if shot else 0.0
        end = cuts[shot] if shot < len(cuts) else math.inf
        targets = _speaker(samples, _tracks(samples))
        tracked |= any(face for _, face, _ in targets)
        follow.shot(start, end, targets, points)
    return CropPath(width, height, _simplify(points), "track" if tracked else "center")


def _tracks(samples: list[_Sample]) -> list[_Track]:
    """Detections linked frame to frame by nearest face centre; tracks seen only once are dropped."""
    tracks: list[_Track] = []
    for k, sample in enumerate(samples):
        live = [tr for tr in tracks if sample.t - samples[tr.last].t <= MAX_GAP]
        pairs = sorted(
            (_distance(tr.faces[tr.last], face), i, j)
            for i, tr in enumerate(live)
            for j, face in enumerate(sample.faces)
        )
        taken_tracks, taken_faces = set(), set()
        for distance, i, j in pairs:
            if distance <= MATCH and i not in taken_tracks and j not in taken_faces:
                taken_tracks.add(i)
                taken_faces.add(j)
                _add(live[i], k, sample, j)
        for j in set(range(len(sample.faces))) - taken_faces:
            tracks.append(_add(_Track(), k, sample, j))
    return [tr for tr in tracks if len(tr.faces) >= MIN_HITS]


def _distance(a: Face, b: Face) -> float:
    return math.hypot(a.cx - b.cx, a.cy - b.cy) / max(a.w, b.w)


def _add(track: _Track, k: int, sample: _Sample, j: int) -> _Track:
    track.faces[k] = sample.faces[j]
    if sample.motions[j] is not None:
        track.motions[k] = sample.motions[j]
    return track


def _speaker(samples: list[_Sample], tracks: list[_Track]) -> list[tuple[float, Face | None, bool]]:
    """Per sample: (t, the face to frame or None, whether the window jumps to it because the speaker changed).

    The first speaker is the face whose mouth moves most over the next LOOKAHEAD seconds; then another face
    takes over only when its mouth clearly and lastingly moves more (SWITCH_RATIO, SWITCH_FLOOR, SWITCH_AFTER)."""
    activity = dict.fromkeys(range(len(tracks)), 0.0)
    current, leading, leading_since = None, None, math.inf
    targets = []
    for k, sample in enumerate(samples):
        alive = [i for i, tr in enumerate(tracks) if tr.first <= k <= tr.last]
        for i in alive:
            if k in tracks[i].motions:
                activity[i] += ACTIVITY * (tracks[i].motions[k] - activity[i])
        jump = False
        if current not in alive and alive:  # the first face, or the speaker was lost: eased to, not jumped to
            current = max(alive, key=lambda i: _upcoming(tracks[i], samples, k))
        elif len(alive) > 1:
            rival = max((i for i in alive if i != current), key=activity.__getitem__)
            if activity[rival] <= SWITCH_RATIO * activity[current] + SWITCH_FLOOR:
                leading = None
            elif rival != leading:
                leading, leading_since = rival, sample.t
            elif sample.t - leading_since >= SWITCH_AFTER:
                current, leading, jump = rival, None, True
        targets.append((sample.t, tracks[current].face_at(k) if current in alive else None, jump))
    return targets


def _upcoming(track: _Track, samples: list[_Sample], k: int) -> tuple[float, float]:
    """Mean mouth motion of a track over the next LOOKAHEAD seconds, then its detector score (to break ties:
    a false detection that persists, on a collar or a poster, scores lower than a face)."""
    horizon = samples[k].t + LOOKAHEAD
    motions = [m for i, m in track.motions.items() if i >= k and samples[i].t <= horizon]
    scores = [face.score for face in track.faces.values()]
    return (sum(motions) / len(motions) if motions else 0.0), sum(scores) / len(scores)


class _Follow:
    """Moves the window after its target: still inside the dead zone, critically damped outside it."""

    def __init__(self, width: int, height: int, source_size: tuple[int, int]):
        self.size = np.array([width, height], dtype=float)
        self.limit = np.array(source_size, dtype=float) - self.size
        self.anchor = self.size * [0.5, HEADROOM]  # where in the window the face's centre is placed
        self.reach = MAX_SPEED * self.size * SMOOTH_TIME  # how far ahead the spring may pull: bounds its speed
        self.x = self.goal = self.velocity = np.zeros(2)

    def place(self, face: Face | None) -> np.ndarray:
        """The window's top-left that frames `face` (the centre for no face), clamped inside the source."""
        if face is None:
            return np.round(self.limit / 4) * 2
        wanted = np.array([face.cx, face.cy]) - self.anchor
        return np.round(np.clip(wanted, 0, self.limit) / 2) * 2

    def shot(self, start: float, end: float, targets: list[tuple[float, Face | None, bool]], points: list) -> None:
        """Appends the positions from the shot's start, where the window jumps to the shot's first face,
        until it settles after the last sample or the shot ends."""
        self.x = self.goal = self.place(next((face for _, face, _ in targets if face), None))
        self.velocity = np.zeros(2)
        _jump(points, start, self.x)
        now = start
        for t, face, jump in targets:
            self._ease(points, now, min(t, end))
            now = max(now, t)
            if face is None:
                continue
            offset = np.abs([face.cx, face.cy] - (self.x + self.anchor))
            if jump and np.any(offset > self.size / 2):  # a new speaker out of the picture: cut to them
                self.x = self.goal = self.place(face)
                self.velocity = np.zeros(2)
                _jump(points, t, self.x)
                continue
            self.goal = np.where(offset > DEAD_ZONE * self.size, self.place(face), self.goal)
        self._ease(points, now, end)

    def _ease(self, points: list, start: float, end: float) -> None:
        """Critically damped steps toward the goal from `start` until `end` or until the window is there: the
        spring's exact solution (stable for any step), as Unity's SmoothDamp, without overshoot."""
        omega = 2 / SMOOTH_TIME
        t = start
        if end > t and not np.array_equal(self.x, self.goal):
            _hold(points, t)  # still until now, then moving
        while end - t > 1e-6 and not np.array_equal(self.x, self.goal):
            dt = min(STEP, end - t)
            change = np.clip(self.x - self.goal, -self.reach, self.reach)
            temp = (self.velocity + omega * change) * dt
            decay = math.exp(-omega * dt)
            self.velocity = (self.velocity - omega * temp) * decay
            moved = self.x - change + (change + temp) * decay
            passed = (self.goal - self.x) * (moved - self.goal) > 0
            self.x = np.where(passed, self.goal, moved)
            self.velocity[passed] = 0
            if np.all(np.abs(self.goal - self.x) < SETTLED) and np.all(np.abs(self.velocity) < SETTLED):
                self.x, self.velocity = self.goal, np.zeros(2)
            t += dt
            points.append((t, *(np.round(self.x / 2) * 2)))


def _hold(points: list, t: float) -> None:
    """The window stays where it is until `t`."""
    if points and points[-1][0] < t:
        points.append((t, *points[-1][1:]))


def _jump(points: list, t: float, position) -> None:
    """The window holds its place until `t`, then is at `position` (an instant move when they differ)."""
    _hold(points, t)
    points.append((t, *position))


def _simplify(points: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Drop points that lie on the straight line between their neighbours (Douglas–Peucker, within
    TOLERANCE px); jumps (two points at one time) are kept exactly."""
    points = [(float(t), float(x), float(y)) for t, x, y in points]
    keep = {0, len(points) - 1} | {i for i in range(1, len(points)) if points[i][0] <= points[i - 1][0]}
    keep |= {i - 1 for i in keep if i > 0 and points[i][0] <= points[i - 1][0]}
    anchors = sorted(keep)
    stack = list(pairwise(anchors))
    while stack:
        a, b = stack.pop()
        if b - a < 2 or points[b][0] <= points[a][0]:
            continue
        (ta, xa, ya), (tb, xb, yb) = points[a], points[b]
        errors = [
            max(abs(xa + (xb - xa) * (t - ta) / (tb - ta) - x), abs(ya + (yb - ya) * (t - ta) / (tb - ta) - y))
            for t, x, y in points[a + 1 : b]
        ]
        worst = int(np.argmax(errors))
        if errors[worst] > TOLERANCE:
            m = a + 1 + worst
            keep.add(m)
            stack += [(a, m), (m, b)]
    return [points[i] for i in sorted(keep)]


def crop_filter(video, path: CropPath, workdir: Path):
    """`video` (timestamps from 0 at the clip's start) cropped to `path.width`×`path.height` along the path.

    A `sendcmd` file in `workdir` gives the crop, at each point's time, x and y as a linear ramp in `t` to the
    next point, so a 60 s clip costs one short expression per frame, not one expression of every segment.
    The commands go to this crop by its own instance name: a bare `crop` target would reach every crop in the
    graph. crop's default `exact=0` rounds x and y down to the chroma grid, keeping 4:2:0 planes aligned."""
    name = f"crop@reframe{uuid.uuid4().hex[:12]}"
    lines = [
        f"{t0:.6f} {name} x {_ramp(t0, x0, t1, x1)}, {name} y {_ramp(t0, y0, t1, y1)};"
        for (t0, x0, y0), (t1, x1, y1) in pairwise(path.points)
        if t1 > t0  # a jump: the segment after it sets the new place
    ]
    t, x, y = path.points[-1]
    lines.append(f"{t:.6f} {name} x {x:.0f}, {name} y {y:.0f};")
    commands = workdir / f"{name.replace('@', '-')}.cmd"
    commands.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, x, y = path.points[0]
    video = video.filter("sendcmd", filename=filter_path(commands))
    return video.filter(name, w=str(path.width), h=str(path.height), x=f"{x:.0f}", y=f"{y:.0f}")


def _ramp(t0: float, v0: float, t1: float, v1: float) -> str:
    slope = (v1 - v0) / (t1 - t0)
    return f"{v0:.0f}" if slope == 0 else f"{v0:.0f}{slope:+.4f}*(t-{t0:.6f})"
