"""Reframing follows the face: tracking, dead zone, easing, cut reset, speaker choice, centre fallback, and the
crop applied by real FFmpeg. Faces are the astronaut photo's, moved along known paths (face_media.py)."""

import json
import subprocess

import cv2
import ffmpeg
import numpy as np
import pytest
from skimage import data

from compositions.highlights.faces import detect_faces
from compositions.highlights.reframe import DEAD_ZONE, CropPath, crop_filter, plan_crop, window_size
from tests.compositions.highlights import face_media as media

SOURCE = media.SIZE
WIDTH = 202  # the 9:16 window in 640×360
CUT = media.MOVING.cuts[0]
# Face centres in source pixels (the cascade's box, not the patch).
LEFT, RIGHT = 160 + media.FACE_OFFSET[0], 480 + media.FACE_OFFSET[0]
# Tolerances for the window's centre against the true face centre, in source pixels.
FOLLOWING = 0.25 * WIDTH  # while the face glides at 120 px/s: the easing's lag (about SMOOTH_TIME × speed)
STILL = DEAD_ZONE * WIDTH + media.SWAY  # once it stops: inside the dead zone, plus the head's sway


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    scenes = {"moving": media.MOVING, "talking": media.TALKING, "interjection": media.INTERJECTION}
    return {name: media.write_video(folder / f"{name}.mp4", scene) for name, scene in scenes.items()}


@pytest.fixture(scope="module")
def plans(videos):
    scenes = {"moving": media.MOVING, "talking": media.TALKING, "interjection": media.INTERJECTION}
    return {
        name: plan_crop(media.analysis_frames(videos[name]), source_size=SOURCE, aspect=(9, 16), cuts=scene.cuts)
        for name, scene in scenes.items()
    }


def centre_x(path: CropPath, t: float) -> float:
    return path.at(t)[0] + path.width / 2


def times(start: float, end: float, step: float = 0.04) -> np.ndarray:
    return np.arange(start, end, step)


@pytest.mark.parametrize(
    ("source", "aspect", "window"),
    [
        ((640, 360), (9, 16), (202, 360)),
        ((640, 360), (1, 1), (360, 360)),
        ((640, 360), (4, 5), (288, 360)),
        ((640, 360), (16, 9), (640, 360)),
        ((1920, 1080), (9, 16), (606, 1080)),
        ((1080, 1920), (16, 9), (1080, 606)),
    ],
)
def test_window_is_the_largest_even_window_of_the_aspect(source, aspect, window):
    assert window_size(source, aspect) == window


def test_detect_faces_finds_the_astronaut_and_nothing_in_a_test_pattern():
    # The photo letterboxed into an analysis frame, 480×270: scaled by 270/512 and moved right by 105 px.
    photo = np.full((270, 480), 128, np.uint8)
    photo[:, 105:375] = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY), (270, 270))
    faces = detect_faces(photo)
    assert len(faces) == 1
    scale = 270 / 512  # the photo's face box is 177,66 95×95
    assert faces[0].cx == pytest.approx(105 + (177 + 47.5) * scale, abs=5)
    assert faces[0].cy == pytest.approx((66 + 47.5) * scale, abs=5)
    assert faces[0].w == pytest.approx(95 * scale, rel=0.25)
    empty = cv2.cvtColor(media.render(media.EMPTY, 0.0), cv2.COLOR_RGB2GRAY)
    assert detect_faces(cv2.resize(empty, (480, 270))) == []


def test_window_centre_follows_the_moving_face(plans):
    path = plans["moving"]
    assert (path.width, path.height, path.layout) == (WIDTH, 360, "track")
    assert all(y == 0 for _, _, y in path.points)  # the window is the source's full height
    for t in times(0, CUT):
        face = media.moving_x(t) + media.FACE_OFFSET[0]
        assert abs(centre_x(path, t) - face) <= FOLLOWING, t
    for t in [*times(0, 1.5), *times(4.2, CUT)]:  # still, and settled 0.7 s after the glide ends
        assert abs(centre_x(path, t) - media.moving_x(t) - media.FACE_OFFSET[0]) <= STILL, t


def analysis(scene: media.Scene, step: float = 0.25) -> list[tuple[float, np.ndarray]]:
    """The scene's frames as the analysis sees them, straight from the renderer (no encode)."""
    return [
        (t, cv2.resize(cv2.cvtColor(media.render(scene, t), cv2.COLOR_RGB2GRAY), (480, 270)))
        for t in times(0, scene.duration, step)
    ]


def test_a_face_that_jumps_within_a_shot_is_eased_to_at_bounded_speed():
    jump = media.Scene(3.5, lambda t: [media.Actor(150 if t < 1.5 else 470, 180)])
    path = plan_crop(analysis(jump), source_size=SOURCE, aspect=(9, 16))
    xs = [path.at(t)[0] for t in times(0, jump.duration, 0.01)]
    speed = np.abs(np.diff(xs)).max() / 0.01
    assert 0.5 * WIDTH < speed <= 1.5 * WIDTH + 2 / 0.01  # MAX_SPEED window widths per second (± rounding)
    assert abs(centre_x(path, 1.49) - 150 - media.FACE_OFFSET[0]) <= STILL
    assert abs(centre_x(path, 3.0) - 470 - media.FACE_OFFSET[0]) <= STILL  # there within 1.5 s


def test_window_keeps_headroom_when_it_can_move_vertically():
    still = media.Scene(2.0, lambda t: [media.Actor(300 + media.sway(t), 180)])
    path = plan_crop(analysis(still), source_size=SOURCE, aspect=(21, 9))
    assert (path.width, path.height) == (640, 274)
    assert len({path.at(t) for t in times(0, still.duration)}) == 1
    face_y = 180 + media.FACE_OFFSET[1] - path.at(0)[1]
    assert face_y == pytest.approx(0.4 * path.height, abs=8)  # HEADROOM: the face a little above the middle


def test_window_does_not_move_while_the_face_is_still(plans):
    path = plans["moving"]
    for start, end in [(0, 1.5), (CUT, media.MOVING.duration)]:
        assert len({path.at(t) for t in times(start, end)}) == 1, (start, end)


def test_window_jumps_to_the_face_at_a_cut_without_easing(plans):
    path = plans["moving"]
    before, after = path.at(CUT - 0.001)[0], path.at(CUT)[0]
    assert abs(before + WIDTH / 2 - 440 - media.FACE_OFFSET[0]) <= STILL
    assert abs(after + WIDTH / 2 - 150 - media.FACE_OFFSET[0]) <= STILL
    assert (CUT, before, 0.0) in path.points and (CUT, after, 0.0) in path.points


def test_no_face_gives_a_centre_crop():
    frames = [
        (t, cv2.resize(cv2.cvtColor(media.render(media.EMPTY, t), cv2.COLOR_RGB2GRAY), (480, 270))) for t in (0, 1)
    ]
    path = plan_crop(frames, source_size=SOURCE, aspect=(9, 16))
    assert path.layout == "center"
    assert len(path.points) == 1
    assert abs(centre_x(path, 0) - SOURCE[0] / 2) <= 1


def test_a_face_seen_in_one_frame_only_is_ignored():
    frames = analysis(media.EMPTY)
    frames[3] = (frames[3][0], analysis(media.MOVING)[0][1])
    assert len(detect_faces(frames[3][1])) == 1
    path = plan_crop(frames, source_size=SOURCE, aspect=(9, 16))
    assert path.layout == "center"
    assert len(path.points) == 1


def test_window_is_on_the_face_that_talks_and_changes_once(plans):
    path = plans["talking"]
    for t in times(0, 3.5):
        assert abs(centre_x(path, t) - RIGHT) <= STILL, t
    for t in times(5.0, media.TALKING.duration):
        assert abs(centre_x(path, t) - LEFT) <= STILL, t
    assert len({path.at(t) for t in times(0, media.TALKING.duration)}) == 2  # one jump, no pan, no flicker


def test_a_word_from_the_other_face_does_not_move_the_window(plans):
    path = plans["interjection"]
    assert len({path.at(t) for t in times(0, media.INTERJECTION.duration)}) == 1
    assert abs(centre_x(path, 0) - RIGHT) <= STILL


def render(videos, tmp_path, *paths: CropPath):
    """The moving clip cropped along each path (side by side) and scaled to 360×640 each, as a file."""
    stream = ffmpeg.input(str(videos["moving"])).video.filter("setpts", "PTS-STARTPTS")
    split = stream.split()
    parts = [split[i] for i in range(len(paths))]
    cropped = [
        crop_filter(part, path, tmp_path).filter("scale", 360, 640) for part, path in zip(parts, paths, strict=True)
    ]
    video = ffmpeg.filter(cropped, "hstack", inputs=len(cropped)) if len(cropped) > 1 else cropped[0]
    out = tmp_path / "out.mp4"
    video.output(str(out), vcodec="libx264", preset="ultrafast", pix_fmt="yuv420p").run(
        quiet=True, overwrite_output=True
    )
    return out


def probe(path):
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)],
        capture_output=True,
        check=True,
    )
    info = json.loads(done.stdout)
    video = info["streams"][0]
    return video["width"], video["height"], float(info["format"]["duration"])


def test_crop_filter_keeps_the_face_in_the_middle_of_the_vertical_clip(videos, plans, tmp_path):
    out = render(videos, tmp_path, plans["moving"])
    width, height, duration = probe(out)
    assert (width, height) == (360, 640)
    assert duration == pytest.approx(media.MOVING.duration, abs=0.1)
    for t, frame in zip([0.5, 2.5, 4.2, 5.5], media.gray_frames(out, [0.5, 2.5, 4.2, 5.5]), strict=True):
        faces = detect_faces(frame)
        assert len(faces) == 1, t
        # STILL and FOLLOWING, scaled by 360 / WIDTH
        tolerance = (FOLLOWING if 1.5 < t < 4.2 else STILL) * width / WIDTH
        assert abs(faces[0].cx - width / 2) <= tolerance, t


def test_two_reframes_in_one_graph_follow_their_own_paths(videos, plans, tmp_path):
    still = CropPath(WIDTH, 360, [(0.0, 0.0, 0.0)], "center")  # the left edge: no face there after 2 s
    out = render(videos, tmp_path, plans["moving"], still)
    frame = media.gray_frames(out, [4.2])[0]
    assert [face.cx < 360 for face in detect_faces(frame)] == [True]
    assert len(list(tmp_path.glob("*.cmd"))) == 2
