"""The compositions API: create, progress, list and detail, isolation between users, preview, cancel, delete,
idempotency, asset checks with field paths, and limits."""

from pathlib import Path

import pytest

from compositions.models import Composition
from jobs.models import Job
from tests.compositions.helpers import compose, problem, size
from tests.media import ffmpeg, make_clip

FAST = {"resolution": "360p", "quality": "low", "fps": 25}


@pytest.fixture(scope="session")
def one_second_path(media_dir) -> Path:
    return make_clip(media_dir / "one-second.mp4", seconds=1)


@pytest.fixture
def clip(alice_api, upload, one_second_path) -> dict:
    return upload(alice_api, one_second_path)


def body_for(clip: dict, **output) -> dict:
    return {"title": "Short", "clips": [{"asset": clip["id"]}], "output": {**FAST, **output}}


@pytest.fixture
def queued(alice_api, clip, django_capture_on_commit_callbacks):
    """A composition whose render is queued and not run."""
    with django_capture_on_commit_callbacks(execute=False):
        response = alice_api.post("/api/v1/compositions", body_for(clip), format="json")
    assert response.status_code == 202
    return response.json()


def test_create_runs_to_succeeded_at_full_progress(alice_api, clip, fetch_output, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = alice_api.post("/api/v1/compositions", body_for(clip), format="json")
    assert created.status_code == 202
    payload = created.json()
    assert payload["id"].startswith("cmp_") and payload["job"].startswith("job_")
    assert payload["status"] == "queued" and payload["output"] is None
    done = alice_api.get(f"/api/v1/compositions/{payload['id']}").json()
    assert (done["status"], done["progress"], done["error"]) == ("succeeded", 100, None)
    assert done["title"] == "Short" and done["spec"]["clips"][0]["asset"] == clip["id"]
    assert done["result"]["duration"] == pytest.approx(1.0, abs=0.04)
    assert done["output"]["kind"] == "video" and done["poster"] is None
    job = alice_api.get(f"/api/v1/jobs/{payload['job']}").json()
    assert (job["operation"], job["status"], job["progress"]) == ("render", "succeeded", 100)
    assert size(fetch_output(done["output"])) == (640, 360)
    listed = alice_api.get("/api/v1/compositions").json()["results"]
    assert [item["id"] for item in listed] == [payload["id"]]
    assert listed[0]["status"] == "succeeded"


def test_other_users_get_404_and_never_see_it(alice_api, bob_api, clip, django_capture_on_commit_callbacks):
    done = compose(alice_api, django_capture_on_commit_callbacks, body_for(clip))
    url = f"/api/v1/compositions/{done['id']}"
    assert bob_api.get(url).status_code == 404
    assert bob_api.delete(url).status_code == 404
    assert bob_api.post(f"{url}/cancel").status_code == 404
    assert bob_api.post(f"{url}/preview").status_code == 404
    assert bob_api.get("/api/v1/compositions").json()["results"] == []
    assert bob_api.get(f"/api/v1/assets/{done['output']['id']}").status_code == 404
    mine = alice_api.get(url).json()
    assert (mine["status"], mine["preview"]) == ("succeeded", None)  # nothing bob did touched it


def test_preview_renders_a_360p_proxy(alice_api, clip, fetch_output, django_capture_on_commit_callbacks):
    done = compose(alice_api, django_capture_on_commit_callbacks, body_for(clip, resolution="480p", poster=0.2))
    assert size(fetch_output(done["output"])) == (854, 480)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(f"/api/v1/compositions/{done['id']}/preview")
    assert response.status_code == 202
    again = alice_api.get(f"/api/v1/compositions/{done['id']}").json()
    preview = again["preview"]
    assert preview["status"] == "succeeded" and preview["job"] != done["job"]
    assert size(fetch_output(preview["output"])) == (640, 360)
    assert again["output"]["id"] == done["output"]["id"]  # the real render is unchanged


def test_cancel_a_queued_composition(alice_api, queued):
    url = f"/api/v1/compositions/{queued['id']}"
    cancelled = alice_api.post(f"{url}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert Job.objects.get(id=queued["job"]).status == Job.Status.CANCELLED
    assert alice_api.get(url).json()["status"] == "cancelled"
    again = alice_api.post(f"{url}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_finished"


def test_delete(alice_api, clip, queued, django_capture_on_commit_callbacks):
    url = f"/api/v1/compositions/{queued['id']}"
    assert alice_api.delete(url).status_code == 204
    assert alice_api.get(url).status_code == 404
    assert alice_api.get("/api/v1/compositions").json()["results"] == []
    assert Job.objects.get(id=queued["job"]).status == Job.Status.CANCELLED  # its queued render is stopped
    # A rendered composition's output outlives it, as an asset of its own.
    done = compose(alice_api, django_capture_on_commit_callbacks, body_for(clip))
    assert alice_api.delete(f"/api/v1/compositions/{done['id']}").status_code == 204
    assert alice_api.get(f"/api/v1/assets/{done['output']['id']}").status_code == 200


def test_idempotency_key_replays_the_first_composition(alice_api, bob_api, upload, clip, one_second_path,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    def post(client, body, key):
        with django_capture_on_commit_callbacks(execute=False) as queued:
            response = client.post("/api/v1/compositions", body, format="json", headers={"Idempotency-Key": key})
        return response, queued

    first, queued = post(alice_api, body_for(clip), "render-1")
    again, queued_again = post(alice_api, body_for(clip), "render-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["job"] == first.json()["job"]
    assert len(queued) == 1 and queued_again == []
    other, _ = post(alice_api, body_for(clip, fps=30), "render-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    theirs, _ = post(bob_api, body_for(upload(bob_api, one_second_path)), "render-1")
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]
    assert Composition.objects.filter(owner__username="alice").count() == 1


@pytest.fixture
def assets(alice_api, bob_api, upload, media_dir, tmp_path, one_second_path, silent_clip_path, tone_path) -> dict:
    picture = media_dir / "api-picture.png"
    if not picture.exists():
        ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", str(picture))
    srt = tmp_path / "captions.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHi\n")
    return {
        "video": upload(alice_api, one_second_path)["id"],
        "silent": upload(alice_api, silent_clip_path)["id"],
        "tone": upload(alice_api, tone_path)["id"],
        "picture": upload(alice_api, picture)["id"],
        "srt": upload(alice_api, srt)["id"],
        "bobs": upload(bob_api, one_second_path)["id"],
    }


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"clips": [{"asset": "ast_doesnotexist"}]}, "clips.0.asset", "No asset"),
        ({"clips": [{"asset": "{video}"}, {"asset": "{bobs}"}]}, "clips.1.asset", "No asset"),
        ({"clips": [{"asset": "{tone}"}]}, "clips.0.asset", "is audio"),
        ({"clips": [{"image": "{video}", "duration": 1}]}, "clips.0.image", "is video"),
        ({"audio": {"music_asset": "{silent}"}}, "audio.music_asset", "has no audio"),
        ({"audio": {"music_asset": "{picture}"}}, "audio.music_asset", "is image"),
        ({"audio": {"voiceover_asset": "{bobs}"}}, "audio.voiceover_asset", "No asset"),
        ({"overlays": [{"type": "image", "asset": "{video}"}]}, "overlays.0.asset", "is video"),
        ({"captions": {"asset": "{tone}"}}, "captions.asset", "is audio"),
        ({"overlays": [{"type": "image", "asset": "{srt}"}]}, "overlays.0.asset", "is subtitle"),
    ],
)
def test_unusable_assets_are_a_400_naming_the_field(change, path, message, alice_api, assets):
    def fill(node):
        if isinstance(node, str):
            return node.format(**assets) if node.startswith("{") else node
        if isinstance(node, list):
            return [fill(item) for item in node]
        return {key: fill(value) for key, value in node.items()} if isinstance(node, dict) else node

    body = {"clips": [{"asset": assets["video"]}], "output": FAST, **fill(change)}
    fields = problem(alice_api, body)
    assert message in fields[path][0], fields
    assert Composition.objects.count() == 0


def test_the_same_assets_are_accepted(alice_api, assets, django_capture_on_commit_callbacks):
    """The control for the test above: each asset where it fits renders."""
    body = {
        "clips": [{"asset": assets["video"]}, {"image": assets["picture"], "duration": 0.5}],
        "audio": {"music_asset": assets["tone"], "voiceover_asset": assets["video"]},
        "overlays": [{"type": "image", "asset": assets["picture"], "scale": 0.1}],
        "captions": {"asset": assets["srt"]},
        "output": FAST,
    }
    done = compose(alice_api, django_capture_on_commit_callbacks, body)
    assert done["result"]["duration"] == pytest.approx(1.5, abs=0.04)


def test_limits(settings, alice_api, clip):
    settings.MEDIAHUB_COMPOSITION_MAX_CLIPS = 2
    settings.MEDIAHUB_COMPOSITION_MAX_OVERLAYS = 1
    three = {"clips": [{"asset": clip["id"]}] * 3, "output": FAST}
    assert "at most 2 clips" in problem(alice_api, three)["clips"][0]
    two_overlays = {**body_for(clip), "overlays": [{"text": "a"}, {"text": "b"}]}
    assert "at most 1 overlays" in problem(alice_api, two_overlays)["overlays"][0]
    settings.MEDIAHUB_COMPOSITION_MAX_SECONDS = 1
    assert "clips" in problem(alice_api, {"clips": [{"asset": clip["id"]}] * 2, "output": FAST})
    assert alice_api.post("/api/v1/compositions", body_for(clip), format="json").status_code == 202


def test_malformed_bodies_name_the_field(alice_api):
    assert alice_api.post("/api/v1/compositions", [1, 2], format="json").status_code == 400
    assert "clips" in problem(alice_api, {"clips": []})
    assert "clips.0.asset" in problem(alice_api, {"clips": [{}]})
    assert "clips.0.colour" in problem(alice_api, {"clips": [{"asset": "ast_x", "colour": "red"}]})
    overlay = {"text": "a", "start_time": 2, "end_time": 1}
    assert "overlays.0.end_time" in problem(alice_api, {"clips": [{"asset": "ast_x"}], "overlays": [overlay]})
