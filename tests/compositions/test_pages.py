"""The compositions dashboard: the list and its form (clip rows, music, text, output, or a pasted spec), errors next
to their inputs, the detail page with live progress, output, preview and cancel; only the owner's."""

import json
import re

import pytest
from django.test import Client

from compositions.models import Composition
from jobs.models import Job
from tests.media import ffmpeg


@pytest.fixture
def alice_browser(alice) -> Client:
    client = Client()
    client.force_login(alice[0])
    return client


@pytest.fixture
def bob_browser(bob) -> Client:
    client = Client()
    client.force_login(bob[0])
    return client


@pytest.fixture(scope="session")
def still_path(media_dir):
    path = media_dir / "still.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=320x240:d=1", "-frames:v", "1", str(path))
    return path


@pytest.fixture
def clip(alice_api, upload, clip_path) -> dict:
    return upload(alice_api, clip_path)


def form(**fields) -> dict:
    """A form post: output defaults as the page sends them, plus `fields`."""
    base = {
        "title": "",
        "output_format": "mp4",
        "output_resolution": "360p",
        "output_aspect_ratio": "16:9",
        "output_quality": "low",
        "overlay_position": "bottom",
    }
    return {**base, **fields}


def row_html(html: str, number: int) -> str:
    match = re.search(rf'<tr id="clip-row-{number}">(.*?)</tr>', html, re.S)
    assert match, f"no clip row {number}"
    return match[1]


def cell_of(html: str, name: str) -> str:
    """The table cell (or label) holding input `name`, with the errors printed beside it."""
    match = re.search(rf'<(td|label)>(?:(?!</?(?:td|label)>).)*name="{name}".*?</\1>', html, re.S)
    assert match, f"no input {name}"
    return match[0]


def test_anonymous_visitors_are_sent_to_the_login(client, alice, db):
    composition = Composition.objects.create(owner=alice[0], title="x", spec={})

    for path in ("/compositions/", f"/compositions/{composition.id}/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_the_page_offers_only_the_users_own_clips_and_music(
    alice_browser, alice_api, bob_api, upload, clip_path, tone_path, still_path
):
    video, music, still = (upload(alice_api, path) for path in (clip_path, tone_path, still_path))
    theirs = upload(bob_api, clip_path)

    response = alice_browser.get("/compositions/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/compositions/">Compositions</a>' in html  # the nav link
    clip_select = cell_of(row_html(html, 1), "clip_0_asset")
    assert video["id"] in clip_select and still["id"] in clip_select
    assert music["id"] not in clip_select
    music_select = cell_of(html, "music_asset")
    assert music["id"] in music_select and video["id"] in music_select  # a video's sound can be the music
    assert still["id"] not in music_select
    assert theirs["id"] not in html
    assert html.count('id="clip-row-') == 5


def test_the_form_builds_the_timeline_and_the_render_plays_on_the_detail_page(
    alice, alice_browser, alice_api, upload, clip_path, tone_path, django_capture_on_commit_callbacks
):
    video, music = upload(alice_api, clip_path), upload(alice_api, tone_path)
    post = form(
        title="Holiday",
        clip_0_asset=video["id"],
        clip_0_duration="1.5",
        clip_0_transition="fade",
        clip_0_transition_duration="0.5",
        clip_2_asset=video["id"],  # row 2 is empty: skipped
        clip_2_in="0.5",
        music_asset=music["id"],
        music_volume="0.3",
        overlay_text="Hello",
        overlay_position="top",
        overlay_start="0.2",
        overlay_end="1",
        overlay_font_size="24",
        overlay_font_color="#ffcc00",
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_browser.post("/compositions/", post)

    composition = Composition.objects.get(owner=alice[0])
    assert response.status_code == 302
    assert response["Location"] == f"/compositions/{composition.id}/"
    spec = composition.spec
    assert composition.title == "Holiday"
    assert [clip["asset"] for clip in spec["clips"]] == [video["id"], video["id"]]
    assert spec["clips"][0]["duration"] == 1.5
    assert spec["clips"][0]["transition"] == {"type": "fade", "duration": 0.5}
    assert spec["clips"][1]["in"] == 0.5
    assert (spec["audio"]["music_asset"], spec["audio"]["music_volume"]) == (music["id"], 0.3)
    overlay = spec["overlays"][0]
    assert (overlay["text"], overlay["position"], overlay["font_size"], overlay["font_color"]) == (
        "Hello", "top", 24, "#FFCC00"
    )  # fmt: skip
    assert (overlay["start_time"], overlay["end_time"]) == (0.2, 1.0)
    assert spec["output"] | {"format": "mp4", "resolution": "360p", "quality": "low"} == spec["output"]
    job = composition.job
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.result["duration"] == pytest.approx(1.5 + 1.5 - 0.5, abs=0.01)

    detail = alice_browser.get(response["Location"]).content.decode()
    output = job.outputs.get(kind="video")
    assert f'src="/api/v1/assets/{output.id}/content"' in detail
    assert "<video" in detail and "Holiday" in detail
    assert 'id="job"' not in detail  # finished: nothing to follow live
    listed = alice_browser.get("/compositions/").content.decode()
    assert f'href="/compositions/{composition.id}/"' in listed and "succeeded" in listed


def test_timeline_errors_appear_in_the_row_they_are_about(alice_browser, clip):
    # Spec clip 1 is form row 3 (row 2 is empty); it needs its 2 s source up to 6 s.
    post = form(clip_0_asset=clip["id"], clip_2_asset=clip["id"], clip_2_in="1", clip_2_duration="5")

    response = alice_browser.post("/compositions/", post)

    html = response.content.decode()
    assert response.status_code == 400
    duration_cell = cell_of(row_html(html, 3), "clip_2_duration")
    assert "needs its source up to 6.00 s" in duration_cell and "errorlist" in duration_cell
    assert 'value="5"' in duration_cell  # the input is kept
    assert "needs its source" not in row_html(html, 1)
    assert not Composition.objects.exists()


def test_spec_errors_appear_next_to_their_inputs(alice_browser, alice_api, upload, still_path):
    still = upload(alice_api, still_path)
    shape = alice_browser.post(
        "/compositions/", form(clip_1_asset=still["id"], overlay_text="Hi", overlay_font_size="2")
    )
    timeline = alice_browser.post("/compositions/", form(clip_1_asset=still["id"], overlay_text="Hi"))

    assert (shape.status_code, timeline.status_code) == (400, 400)
    assert "greater than or equal to 8" in cell_of(shape.content.decode(), "overlay_font_size")
    assert "give a duration or end_time" in cell_of(row_html(timeline.content.decode(), 2), "clip_1_duration")


def test_a_pasted_spec_is_used_as_it_is_and_its_errors_go_on_top(
    alice, alice_browser, clip, django_capture_on_commit_callbacks
):
    bad = {"clips": [{"asset": clip["id"], "start_time": 1, "end_time": 0.5}]}
    response = alice_browser.post("/compositions/", form(spec_json=json.dumps(bad)))

    html = response.content.decode()
    assert response.status_code == 400
    errors = re.search(r'<div id="form-errors">(.*?)</div>', html, re.S)[1]
    assert "clips.0.end_time: must be after start_time" in errors

    good = {"clips": [{"asset": clip["id"], "duration": 1}], "output": {"resolution": "360p", "quality": "low"}}
    with django_capture_on_commit_callbacks(execute=False):
        response = alice_browser.post("/compositions/", form(title="Pasted", spec_json=json.dumps(good)))

    composition = Composition.objects.get(owner=alice[0])
    assert response.status_code == 302
    assert composition.title == "Pasted"
    assert [(c["asset"], c["duration"]) for c in composition.spec["clips"]] == [(clip["id"], 1.0)]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({}, "Pick at least one clip, or paste a spec."),
        ({"spec_json": "[1, 2]"}, "A spec is a JSON object"),
        ({"spec_json": "{nope"}, "Enter a valid JSON."),
    ],
)
def test_an_empty_or_unreadable_form_is_a_400(alice_browser, clip, fields, message):
    response = alice_browser.post("/compositions/", form(**fields))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Composition.objects.exists()


def test_another_users_asset_cannot_be_picked(bob_browser, clip):
    response = bob_browser.post("/compositions/", form(clip_0_asset=clip["id"]))

    assert response.status_code == 400
    assert "Select a valid choice" in cell_of(row_html(response.content.decode(), 1), "clip_0_asset")
    assert not Composition.objects.exists()


@pytest.fixture
def queued(alice, alice_browser, clip) -> Composition:
    """Alice's composition, its render queued (on-commit hand-over not run)."""
    response = alice_browser.post("/compositions/", form(title="Queued", clip_0_asset=clip["id"]))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Composition.objects.get(owner=alice[0])


def test_the_detail_page_follows_the_render_live(alice_browser, queued):
    html = alice_browser.get(f"/compositions/{queued.id}/").content.decode()

    assert f'id="job" data-job-id="{queued.job_id}" data-status="queued"' in html
    assert 'src="/static/js/job.js"' in html
    assert 'data-field="progress"' in html
    assert f'href="/jobs/{queued.job_id}/"' in html
    assert f'action="/compositions/{queued.id}/cancel"' in html
    assert f'action="/compositions/{queued.id}/preview"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_cancel_then_preview(alice_browser, queued, django_capture_on_commit_callbacks):
    response = alice_browser.post(f"/compositions/{queued.id}/cancel")

    assert response.status_code == 302
    queued.job.refresh_from_db()
    assert queued.job.status == "cancelled"
    again = alice_browser.post(f"/compositions/{queued.id}/cancel", follow=True)
    assert "The render already finished." in again.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_browser.post(f"/compositions/{queued.id}/preview")

    queued.refresh_from_db()
    preview = queued.preview_job
    assert response.status_code == 302
    assert preview.status == "succeeded", preview.error
    assert preview.params["output"]["preview"] is True
    html = alice_browser.get(f"/compositions/{queued.id}/").content.decode()
    video = preview.outputs.get(kind="video")
    assert (video.width, video.height) == (640, 360)
    assert 'id="preview"' in html and f"/api/v1/assets/{video.id}/content" in html


def test_another_user_gets_404(bob_browser, queued):
    assert bob_browser.get(f"/compositions/{queued.id}/").status_code == 404
    assert bob_browser.post(f"/compositions/{queued.id}/cancel").status_code == 404
    assert bob_browser.post(f"/compositions/{queued.id}/preview").status_code == 404
    assert queued.title not in bob_browser.get("/compositions/").content.decode()
    assert queued.title not in bob_browser.get("/compositions/rows").content.decode()
    assert Job.objects.get(id=queued.job_id).status == "queued"


def test_forms_need_the_csrf_token(alice, queued):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice[0])

    for path in ("/compositions/", f"/compositions/{queued.id}/cancel", f"/compositions/{queued.id}/preview"):
        assert browser.post(path, {}).status_code == 403, path
    assert Job.objects.get(id=queued.job_id).status == "queued"


@pytest.mark.parametrize(
    "aspect, size", [("16:9", (640, 360)), ("9:16", (360, 640)), ("1:1", (360, 360)), ("4:5", (360, 450))]
)
def test_a_preview_keeps_the_outputs_aspect_ratio(tmp_path, aspect, size):
    from compositions.graph import Graph
    from compositions.spec import CompositionSpec

    spec = CompositionSpec.model_validate(
        {"clips": [{"asset": "ast_x"}], "output": {"resolution": "1080p", "aspect_ratio": aspect, "preview": True}}
    )

    graph = Graph(spec, {}, tmp_path)

    assert (graph.width, graph.height) == size
