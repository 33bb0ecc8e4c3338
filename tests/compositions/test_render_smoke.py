"""First end-to-end renders: timeline maths and output format on tiny generated clips."""

import pytest

from tests.media import make_clip, probe, streams


@pytest.fixture(scope="session")
def four_second_clip(media_dir):
    return make_clip(media_dir / "four.mp4", seconds=4, size="320x240")


def test_three_clips_with_transitions_last_eleven_seconds(
    alice_api, upload, four_second_clip, fetch_output, django_capture_on_commit_callbacks, tone_path
):
    clip = upload(alice_api, four_second_clip)
    music = upload(alice_api, tone_path)
    body = {
        "title": "Three",
        "clips": [
            {"asset": clip["id"], "transition": {"type": "fade", "duration": 0.5}},
            {"asset": clip["id"], "transition": {"type": "wipeleft", "duration": 0.5}},
            {"asset": clip["id"]},
        ],
        "audio": {"music_asset": music["id"], "music_volume": 0.3},
        "overlays": [{"text": "Hello: 'world' 100%", "position": "bottom", "start_time": 1, "end_time": 3}],
        "output": {"resolution": "360p", "quality": "low", "fps": 25, "poster": 1},
    }
    with django_capture_on_commit_callbacks(execute=True):
        created = alice_api.post("/api/v1/compositions", body, format="json")
    assert created.status_code == 202, created.content
    done = alice_api.get(f"/api/v1/compositions/{created.json()['id']}").json()
    assert done["status"] == "succeeded", done["error"]
    info = probe(fetch_output(done["output"]))
    video = streams(info, "video")[0]
    assert (video["width"], video["height"]) == (640, 360)
    assert abs(float(info["format"]["duration"]) - 11.0) <= 0.05
    assert done["poster"]["kind"] == "image"
