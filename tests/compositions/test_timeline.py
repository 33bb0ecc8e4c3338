"""Timeline maths on real renders: sequences, gaps, transitions, trims, speed, images; place_clips on its own.

The "ramp" clip's brightness encodes its own time (luma rises 50 per second), so the brightness of an output frame
says which source moment it shows (tests/compositions/helpers.py)."""

from pathlib import Path

import pytest

from compositions.spec import CompositionSpec, place_clips
from jobs.operations.base import FieldError
from tests.compositions.helpers import (
    FAST,
    FRAME,
    audio_duration,
    compose,
    frame,
    make_picture,
    make_ramp,
    mean_volume,
    problem,
    render,
    video_duration,
)


@pytest.fixture(scope="session")
def ramp_path(media_dir) -> Path:
    return make_ramp(media_dir / "ramp.mp4")


@pytest.fixture(scope="session")
def picture_path(media_dir) -> Path:
    return make_picture(media_dir / "picture.png")


@pytest.fixture
def ramp(alice_api, upload, ramp_path) -> dict:
    return upload(alice_api, ramp_path)


CENTRE = (300, 160, 340, 200)  # a 40×40 box in the middle of a 640×360 frame


def shows(path: Path, at: float, source: Path, source_at: float) -> bool:
    """Whether the output frame at `at` shows the ramp at `source_at` (brightness within about a frame)."""
    got = frame(path, at).mean(*CENTRE)
    want = frame(source, source_at).mean(140, 100, 180, 140)
    return abs(got - want) <= 3.5


def assert_lasts(path: Path, seconds: float) -> None:
    assert abs(video_duration(path) - seconds) <= FRAME + 1e-3, (video_duration(path), seconds)
    assert abs(audio_duration(path) - seconds) <= 2 * FRAME, (audio_duration(path), seconds)


# --- renders ----------------------------------------------------------------------------------------------


def test_sequence_with_explicit_times(alice_api, ramp, ramp_path, fetch_output, django_capture_on_commit_callbacks):
    body = {
        "clips": [
            {"asset": ramp["id"], "start_time": 0, "end_time": 1.5},
            {"asset": ramp["id"], "start_time": 1.5, "end_time": 2.5, "in": 2},
        ],
        "output": FAST,
    }
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    assert_lasts(out, 2.5)
    assert shows(out, 0.4, ramp_path, 0.4)
    assert shows(out, 1.6, ramp_path, 2.1)  # the second clip starts 2 s into its source


def test_clips_far_into_a_source_show_the_right_moment_after_the_input_seek(
    alice_api, ramp, ramp_path, fetch_output, django_capture_on_commit_callbacks
):
    """Both clips start past SEEK_FROM, so the source is opened with -ss 2.5: trims count from there."""
    body = {
        "clips": [
            {"asset": ramp["id"], "in": 3, "duration": 0.8},
            {"asset": ramp["id"], "in": 2.5, "duration": 0.5},
        ],
        "output": FAST,
    }
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    assert_lasts(out, 1.3)
    assert shows(out, 0.4, ramp_path, 3.4)
    assert shows(out, 1.0, ramp_path, 2.7)


def test_gaps_are_black_and_silent(alice_api, alice_clip, fetch_output, django_capture_on_commit_callbacks):
    """A leading gap (the first clip starts at 1 s) and a gap between clips: black picture, silent audio."""
    body = {
        "clips": [
            {"asset": alice_clip["id"], "start_time": 1, "end_time": 2},
            {"asset": alice_clip["id"], "start_time": 3, "end_time": 4},
        ],
        "output": FAST,
    }
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    assert_lasts(out, 4.0)
    for gap in (0.5, 2.5):
        assert max(frame(out, gap).pixels) <= 20, f"the frame at {gap} s is not black"
        assert mean_volume(out, gap - 0.3, gap + 0.3) < -80, f"the audio around {gap} s is not silent"
    for clip in (1.5, 3.5):
        assert frame(out, clip).mean() > 40, f"the clip at {clip} s is missing"
        assert mean_volume(out, clip - 0.3, clip + 0.3) > -30


def test_transitions_overlap_their_clips(alice_api, ramp, fetch_output, django_capture_on_commit_callbacks):
    """Three 4 s clips with 0.5 s transitions last 4 + 3.5 + 3.5 = 11 s; mid-transition frames mix both clips."""
    body = {
        "clips": [
            {"asset": ramp["id"], "transition": {"type": "fade", "duration": 0.5}},
            {"asset": ramp["id"], "transition": {"type": "dissolve", "duration": 0.5}},
            {"asset": ramp["id"]},
        ],
        "output": FAST,
    }
    done = compose(alice_api, django_capture_on_commit_callbacks, body)
    assert [(c["start"], c["end"]) for c in done["result"]["clips"]] == [(0, 4), (3.5, 7.5), (7, 11)]
    out = fetch_output(done["output"])
    assert_lasts(out, 11.0)
    # Half way through the first fade (3.75 s) the picture is between the end of clip 0 and the start of clip 1.
    end_of_first, start_of_second = 20 + 50 * 3.75, 20 + 50 * 0.25
    middle = frame(out, 3.75).mean(*CENTRE)
    assert start_of_second + 30 < middle < end_of_first - 30


@pytest.mark.parametrize(
    ("clip", "length", "first"),
    [
        ({"in": 1, "trim_end": 3}, 2.0, 1.0),
        ({"trim_start": 0.5, "trim_end": 2}, 1.5, 0.5),
        ({"in": 2.5}, 1.5, 2.5),  # to the source's end
        ({"trim_start": 1.5, "duration": 1}, 1.0, 1.5),
    ],
)
def test_in_and_trim_aliases(
    clip, length, first, alice_api, ramp, ramp_path, fetch_output, django_capture_on_commit_callbacks
):
    body = {"clips": [{"asset": ramp["id"], **clip}, {"asset": ramp["id"], "end_time": length + 0.5}], "output": FAST}
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    assert_lasts(out, length + 0.5)
    assert shows(out, 0.02, ramp_path, first + 0.02)
    assert shows(out, length - 0.1, ramp_path, first + length - 0.1)
    assert shows(out, length + 0.1, ramp_path, 0.1)  # the next clip starts at the source's beginning


def test_speed_retimes_picture_and_sound(alice_api, ramp, ramp_path, fetch_output, django_capture_on_commit_callbacks):
    body = {"clips": [{"asset": ramp["id"], "speed": 2}], "output": FAST}
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    assert_lasts(out, 2.0)
    assert shows(out, 0.5, ramp_path, 1.0)
    assert shows(out, 1.5, ramp_path, 3.0)
    # The ramp's tone starts 2 s into the source: 1 s into the output at double speed.
    assert mean_volume(out, 0.1, 0.9) < -60
    assert mean_volume(out, 1.1, 1.9) > -25


def test_images_hold_for_their_duration_and_ken_burns_zooms(
    alice_api, upload, picture_path, fetch_output, django_capture_on_commit_callbacks
):
    picture = upload(alice_api, picture_path)
    assert picture["kind"] == "image"
    body = {
        "clips": [
            {"image": picture["id"], "duration": 1.5},
            {"asset": picture["id"], "start_time": 1.5, "end_time": 3, "ken_burns": True},
        ],
        "output": FAST,
    }
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    assert_lasts(out, 3.0)

    def change(a: float, b: float) -> float:
        first, second = frame(out, a), frame(out, b)
        return sum(abs(x - y) for x, y in zip(first.pixels, second.pixels, strict=True)) / len(first.pixels)

    assert change(0.1, 1.3) < 2  # a still
    assert change(1.6, 2.9) > 10  # zooming in


# --- place_clips on its own -------------------------------------------------------------------------------


def spec(*clips: dict) -> CompositionSpec:
    return CompositionSpec.model_validate({"clips": [{"asset": f"ast_{i}", **clip} for i, clip in enumerate(clips)]})


def placed_error(clips: list[dict], durations: dict) -> FieldError:
    with pytest.raises(FieldError) as caught:
        place_clips(spec(*clips), durations)
    return caught.value


def test_clips_follow_each_other_overlapping_by_their_transitions():
    fade = {"transition": {"duration": 0.5}}
    placed = place_clips(spec(fade, fade, {}), {0: 4.0, 1: 4.0, 2: 4.0})
    assert [(p.start, p.end) for p in placed] == [(0, 4), (3.5, 7.5), (7, 11)]


def test_speed_and_trims_set_the_length():
    placed = place_clips(spec({"speed": 2}, {"in": 1, "trim_end": 3}, {"trim_start": 1, "speed": 0.5}), {
        0: 4.0, 1: 4.0, 2: 4.0,
    })  # fmt: skip
    assert [(p.start, p.end) for p in placed] == [(0, 2), (2, 4), (4, 10)]
    assert placed[2].source_in == 1 and placed[2].source_length == 3


def test_overlap_without_transition_names_the_clip():
    error = placed_error([{"start_time": 0, "end_time": 2}, {"start_time": 1.5, "end_time": 3}], {0: 4.0, 1: 4.0})
    assert error.field == "clips.1.start_time"
    assert "clip 0" in str(error)


def test_transition_on_the_last_clip_is_refused():
    error = placed_error([{}, {"transition": {"duration": 0.5}}], {0: 4.0, 1: 4.0})
    assert error.field == "clips.1.transition"


def test_transition_without_overlap_is_refused():
    error = placed_error([{"end_time": 2, "transition": {"duration": 0.5}}, {"start_time": 2}], {0: 4.0, 1: 4.0})
    assert error.field == "clips.0.transition"


def test_trim_past_the_source_names_the_clip_and_the_source_duration():
    error = placed_error([{}, {"in": 1, "end_time": 8}], {0: 4.0, 1: 4.0})
    assert error.field == "clips.1.end_time"
    assert "clip 1" in str(error) and "4.00 s" in str(error)
    error = placed_error([{"in": 5}], {0: 4.0})
    assert error.field == "clips.0.in"
    assert "4.00 s" in str(error)


def test_timeline_longer_than_the_limit_is_refused(settings):
    settings.MEDIAHUB_COMPOSITION_MAX_SECONDS = 5
    error = placed_error([{}, {}], {0: 4.0, 1: 4.0})
    assert error.field == "clips"


# --- field paths through the API --------------------------------------------------------------------------


def test_end_before_start_is_a_400_naming_the_field(alice_api):
    fields = problem(alice_api, {"clips": [{"asset": "ast_whatever", "start_time": 5, "end_time": 2}]})
    assert "clips.0.end_time" in fields


@pytest.mark.parametrize(
    ("clips", "path"),
    [
        ([{"start_time": 0, "end_time": 2}, {"start_time": 1, "end_time": 3}], "clips.1.start_time"),
        ([{}, {"transition": {"type": "fade"}}], "clips.1.transition"),
        ([{"in": 1, "end_time": 6}], "clips.0.end_time"),
        ([{"speed": 9}], "clips.0.speed"),
        ([{"transition": {"type": "explode"}}, {}], "clips.0.transition.type"),
        ([{"fit": "zoom"}], "clips.0.fit"),
    ],
)
def test_timeline_errors_name_the_field(clips, path, alice_api, ramp):
    fields = problem(alice_api, {"clips": [{"asset": ramp["id"], **clip} for clip in clips]})
    assert path in fields, fields


def test_trim_past_the_source_says_how_long_the_source_is(alice_api, ramp):
    fields = problem(alice_api, {"clips": [{"asset": ramp["id"], "in": 3, "duration": 2}]})
    assert "4.00 s" in fields["clips.0.end_time"][0]


def test_image_without_duration_is_refused(alice_api, upload, picture_path):
    picture = upload(alice_api, picture_path)
    assert "clips.0.duration" in problem(alice_api, {"clips": [{"image": picture["id"]}]})
