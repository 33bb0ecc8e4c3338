"""The generation dashboard: the playground (capability-aware form, keys, cost, errors next to their inputs), a
generation's page (live progress, video, providers tried, cancel, delete), the gallery with its filters and the
usage page; only the owner's, and only after logging in. Real generations use the offline local provider."""

import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import Job
from providers.models import Budget, Generation
from tests.media import ffmpeg

LOCAL = {"model": "local/title-card", "duration": "2", "aspect_ratio": "16:9", "resolution": "360p"}


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
def still_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("page-media") / "still.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=320x240:d=1", "-frames:v", "1", str(path))
    return path


def form(**fields) -> dict:
    return {"prompt": "A lighthouse at dusk", **LOCAL, **fields}


def label_of(html: str, name: str) -> str:
    """The <label> holding input `name`, with the errors printed beside it."""
    match = re.search(rf'<label>(?:(?!</?label>).)*name="{name}".*?</label>', html, re.S)
    assert match, f"no input {name}"
    return match[0]


def card_ids(html: str) -> set[str]:
    return set(re.findall(r'id="card-(gen_\w+)"', html))


def make_generation(owner, *, provider="local", model="title-card", status=Job.Status.SUCCEEDED, cost="0"):
    """A generation row as the router leaves it, without running a provider."""
    params = {"provider": provider, "model": model, "prompt": "x"}
    job = Job.objects.create(owner=owner, operation="generate", status=status, params=params)
    prompt = f"{provider} {model}"
    return Generation.objects.create(
        owner=owner, job=job, provider=provider, model=model, prompt=prompt, cost=Decimal(cost)
    )


@pytest.fixture
def queued(alice, alice_browser) -> Generation:
    """Alice's generation from the playground, its job queued (the on-commit hand-over not run)."""
    response = alice_browser.post("/generate/", form(prompt="Waiting in line"))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Generation.objects.get(owner=alice[0])


# --- access -------------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login(client, alice):
    generation = make_generation(alice[0])

    for path in ("/generate/", "/generate/gallery", "/generate/usage", f"/generate/{generation.id}/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/?next=")


def test_another_user_gets_404_and_never_sees_the_generation(bob_browser, queued):
    assert bob_browser.get(f"/generate/{queued.id}/").status_code == 404
    for action in ("cancel", "delete"):
        assert bob_browser.post(f"/generate/{queued.id}/{action}").status_code == 404
    assert queued.id not in bob_browser.get("/generate/gallery").content.decode()
    assert queued.id not in bob_browser.get("/generate/gallery/grid").content.decode()
    assert queued.prompt not in bob_browser.get("/generate/").content.decode()
    assert Job.objects.get(id=queued.job_id).status == Job.Status.QUEUED


# --- the playground -----------------------------------------------------------------------------------------


def test_the_playground_offers_the_models_their_settings_keys_and_the_users_own_images(
    alice_browser, alice_api, bob_api, upload, still_path, clip_path
):
    image, video, theirs = upload(alice_api, still_path), upload(alice_api, clip_path), upload(bob_api, still_path)

    response = alice_browser.get("/generate/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/generate/">Generate</a>' in html  # the nav link
    models = json.loads(re.search(r'data-models="([^"]+)"', html)[1].replace("&quot;", '"'))
    local = models["local/title-card"]
    assert local["durations"] == [2, 4, 5, 8, 10] and local["image"] == "optional"
    assert "openai/sora-2" in models
    # Without keys the local provider is the default, and its settings are the ones offered.
    assert re.search(r'<option value="local/title-card" selected>', html)
    assert re.search(r'<option value="4" selected>4</option>', label_of(html, "duration"))
    assert '<option value="360p">' in label_of(html, "resolution")
    assert "(no working key)" in html
    openai_row = re.search(r'<tr id="provider-openai">.*?</tr>', html, re.S)[0]
    assert 'href="/settings/provider-keys/"' in openai_row
    assert "no key needed" in re.search(r'<tr id="provider-local">.*?</tr>', html, re.S)[0]
    images = label_of(html, "image")
    assert image["id"] in images and video["id"] not in images and theirs["id"] not in images
    assert "0.00 USD (4 s × 0 USD/s)" in html
    assert 'src="/static/providers/generate.js"' in html


def test_the_playground_makes_a_video_with_the_local_provider_and_its_page_plays_it(
    alice, alice_browser, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_browser.post("/generate/", form(prompt="Waves on a pier", seed="7"))

    generation = Generation.objects.get(owner=alice[0])
    assert response.status_code == 302
    assert response["Location"] == f"/generate/{generation.id}/"
    assert generation.status == "completed", generation.job.error
    assert generation.job.params | {"duration": 2, "aspect_ratio": "16:9", "resolution": "360p", "seed": 7} == (
        generation.job.params
    )
    html = alice_browser.get(response["Location"]).content.decode()
    video, poster = generation.outputs()["video"], generation.outputs()["poster"]
    assert f'<video controls preload="metadata" src="/api/v1/assets/{video.id}/content"' in html
    assert f'poster="/api/v1/assets/{poster.id}/content"' in html
    assert f'href="/compositions/?clip_0_asset={video.id}"' in html
    assert ">completed</span>" in html and "Waves on a pier" in html
    assert "2 s · 16:9 · 360p · seed 7" in html
    tried = re.search(r'<section class="card" id="tried">.*?</section>', html, re.S)[0]
    assert "local" in tried and "title-card" in tried and "completed" in tried
    assert f'action="/generate/{generation.id}/delete"' in html
    assert 'id="job"' not in html  # finished: nothing to follow live
    gallery = alice_browser.get("/generate/gallery").content.decode()
    assert card_ids(gallery) == {generation.id}
    assert f'src="/api/v1/assets/{poster.id}/content"' in gallery
    assert f'href="/api/v1/assets/{video.id}/content" download' in gallery


def test_a_duration_the_model_does_not_make_is_shown_next_to_the_duration(alice_browser):
    response = alice_browser.post("/generate/", form(duration="3"))

    html = response.content.decode()
    assert response.status_code == 400
    duration = label_of(html, "duration")
    assert "title-card makes videos of 2, 4, 5, 8, 10 seconds." in duration and "errorlist" in duration
    assert '<option value="3" selected>3</option>' in duration  # what was sent stays shown
    assert "errorlist" not in label_of(html, "prompt")
    assert "A lighthouse at dusk" in label_of(html, "prompt")
    assert not Generation.objects.exists()


@pytest.mark.parametrize(
    "fields, name, message",
    [
        ({"model": "openai/sora-2", "duration": "4", "resolution": "720p"}, "model", "You have no working openai key"),
        ({"model": "nope/gen-9"}, "model", "Select a valid choice"),
        ({"fallback_1": "local"}, "fallback_1", "Name another provider, once."),
        ({"prompt": ""}, "prompt", "This field is required."),
        ({"image": "ast_missing"}, "image", "Select a valid choice"),
    ],
)
def test_request_errors_appear_next_to_their_inputs(alice_browser, fields, name, message):
    response = alice_browser.post("/generate/", form(**fields))

    assert response.status_code == 400
    assert message in label_of(response.content.decode(), name)
    assert not Generation.objects.exists()


def test_a_generation_past_the_budget_is_refused_above_the_form(alice, alice_browser, settings):
    settings.MEDIAHUB_PROVIDERS = {"local": {"prices": {"title-card": 1.0}}}
    Budget.objects.create(owner=alice[0], monthly_usd=Decimal("1.50"))

    response = alice_browser.post("/generate/", form())

    html = response.content.decode()
    assert response.status_code == 402
    errors = re.search(r'<div id="form-errors">(.*?)</div>', html, re.S)[1]
    assert "would take this month&#x27;s spend past the budget of 1.50 USD" in errors
    assert "1.50 USD of this month's 1.50 USD budget left" in html
    assert not Generation.objects.exists()


def test_a_start_image_goes_with_the_request(alice, alice_browser, alice_api, upload, still_path):
    image = upload(alice_api, still_path)

    response = alice_browser.post("/generate/", form(image=image["id"], fallback_0="openai"))

    generation = Generation.objects.get(owner=alice[0])
    assert response.status_code == 302
    assert generation.image_id == image["id"]
    assert generation.job.params["fallback"] == ["openai"]


def test_generate_again_fills_the_form_from_an_earlier_generation(alice_browser, queued, bob_browser):
    html = alice_browser.get(f"/generate/?from={queued.id}").content.decode()

    assert "Waiting in line" in label_of(html, "prompt")
    assert re.search(r'<option value="2" selected>2</option>', label_of(html, "duration"))
    assert "Waiting in line" not in bob_browser.get(f"/generate/?from={queued.id}").content.decode()


# --- a generation's page ------------------------------------------------------------------------------------


def test_the_page_follows_a_running_generation_live_and_cancels_it(alice_browser, queued):
    html = alice_browser.get(f"/generate/{queued.id}/").content.decode()

    assert f'id="job" data-job-id="{queued.job_id}" data-status="queued"' in html
    assert "data-status-names=" in html and ">queued</span>" in html
    assert 'data-field="progress"' in html
    assert f'action="/generate/{queued.id}/cancel"' in html
    assert "/delete" not in html

    response = alice_browser.post(f"/generate/{queued.id}/cancel")

    assert response.status_code == 302
    assert Job.objects.get(id=queued.job_id).status == Job.Status.CANCELLED
    html = alice_browser.get(f"/generate/{queued.id}/").content.decode()
    assert ">cancelled</span>" in html and 'id="job"' not in html


def test_delete_waits_for_the_end_then_returns_to_the_gallery_filters(alice_browser, queued):
    refused = alice_browser.post(f"/generate/{queued.id}/delete", follow=True)

    assert "still running: cancel it first" in refused.content.decode()
    assert Generation.objects.filter(id=queued.id).exists()

    alice_browser.post(f"/generate/{queued.id}/cancel")
    back = "/generate/gallery?status=cancelled"
    response = alice_browser.post(f"/generate/{queued.id}/delete", {"next": back})

    assert (response.status_code, response["Location"]) == (302, back)
    assert not Generation.objects.filter(id=queued.id).exists()
    elsewhere = alice_browser.post(f"/generate/{make_generation(queued.owner).id}/delete", {"next": "https://x.test/"})
    assert elsewhere["Location"] == "/generate/gallery"


# --- gallery --------------------------------------------------------------------------------------------------


def test_the_gallery_filters_by_provider_model_and_status(alice, alice_browser):
    done = make_generation(alice[0])
    failed = make_generation(alice[0], provider="openai", model="sora-2", status=Job.Status.FAILED)
    running = make_generation(alice[0], status=Job.Status.RUNNING)

    def shown(query: str) -> set[str]:
        response = alice_browser.get(f"/generate/gallery{query}")
        assert response.status_code == 200, query
        return card_ids(response.content.decode())

    assert shown("") == {done.id, failed.id, running.id}
    assert shown("?provider=local") == {done.id, running.id}
    assert shown("?model=sora-2") == {failed.id}
    assert shown("?status=completed") == {done.id}
    assert shown("?provider=local&status=processing") == {running.id}
    bad = alice_browser.get("/generate/gallery?status=lost")
    assert bad.status_code == 400
    assert "Select a valid choice" in label_of(bad.content.decode(), "status")


def test_the_gallery_grid_is_polled_only_while_a_generation_runs(alice, alice_browser):
    running = make_generation(alice[0], status=Job.Status.RUNNING)

    html = alice_browser.get("/generate/gallery?provider=local").content.decode()
    assert 'hx-get="/generate/gallery/grid?provider=local"' in html

    Job.objects.filter(id=running.job_id).update(status=Job.Status.SUCCEEDED)
    grid = alice_browser.get("/generate/gallery/grid?provider=local").content.decode()
    assert card_ids(grid) == {running.id} and "hx-get" not in grid


# --- usage --------------------------------------------------------------------------------------------------


def test_the_usage_page_shows_totals_tables_chart_and_budget(alice, alice_browser, bob):
    make_generation(alice[0], cost="0.40")
    make_generation(alice[0], provider="openai", model="sora-2", cost="1.20")
    make_generation(alice[0], provider="openai", model="sora-2", status=Job.Status.FAILED)
    make_generation(bob[0], cost="9.00")
    Budget.objects.create(owner=alice[0], monthly_usd=Decimal("10"))

    response = alice_browser.get("/generate/usage")

    html = response.content.decode()
    assert response.status_code == 200
    totals = re.search(r'<p id="totals">(.*?)</p>', html, re.S)[1]
    assert "<strong>3</strong> generations" in totals and "2 completed" in totals and "1 failed" in totals
    assert "<strong>1.60 USD</strong>" in totals
    by_provider = re.search(r'<table id="by-provider">.*?</table>', html, re.S)[0]
    assert re.search(r"<td>openai</td><td>2</td><td>1</td><td>1</td>\s*<td>1.20 USD</td>", by_provider)
    by_model = re.search(r'<table id="by-model">.*?</table>', html, re.S)[0]
    assert "<td>sora-2</td>" in by_model and "<td>title-card</td>" in by_model
    assert html.count("<rect ") >= 2 and "1.60 USD</title>" in html
    assert "1.60 USD</strong> spent" in html and "of a 10.00 USD budget (8.40 USD left)" in html
    assert "9.00" not in html  # Bob's
    today = timezone.localdate()
    assert f'value="{today.replace(day=1).isoformat()}"' in label_of(html, "start")
    assert f'value="{today.isoformat()}"' in label_of(html, "end")


def test_a_usage_range_ending_before_it_starts_is_an_error(alice_browser):
    response = alice_browser.get("/generate/usage?start=2026-03-10&end=2026-03-01")

    assert response.status_code == 400
    assert "on or after the first one" in label_of(response.content.decode(), "end")
