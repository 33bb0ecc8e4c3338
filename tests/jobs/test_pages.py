"""The dashboard's "Run an operation" form: any catalog operation on the user's own assets."""

import pytest
from django.test import Client

from jobs.models import Job


@pytest.fixture
def alice_browser(alice) -> Client:
    client = Client()
    client.force_login(alice[0])
    return client


def test_the_form_lists_operations_and_only_the_users_assets(alice_browser, alice_api, bob_api, upload, clip_path):
    mine = upload(alice_api, clip_path)
    theirs = upload(bob_api, clip_path)

    html = alice_browser.get("/").content.decode()

    assert 'action="/jobs/run"' in html
    assert '<option value="transcode">' in html
    assert mine["id"] in html
    assert theirs["id"] not in html


def test_running_an_operation_from_the_form_starts_the_job(
    alice, alice_browser, alice_api, upload, clip_path, django_capture_on_commit_callbacks
):
    asset = upload(alice_api, clip_path)
    form = {"operation": "transcode", "inputs": [asset["id"]], "params": '{"height": 120, "preset": "ultrafast"}'}

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_browser.post("/jobs/run", {**form, "priority": 3})

    job = Job.objects.get(owner=alice[0])
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.id}/"
    assert (job.status, job.priority, job.params["height"]) == ("succeeded", 3, 120)
    assert job.outputs.get().height == 120


@pytest.mark.parametrize(
    "params, message",
    [
        ('{"height": 121}', "params.height: height must be even"),
        ("[1, 2]", "Params are a JSON object"),
        ("{not json", "Enter a valid JSON."),
    ],
)
def test_bad_params_show_the_form_again_with_the_error(alice_browser, alice_api, upload, clip_path, params, message):
    asset = upload(alice_api, clip_path)

    response = alice_browser.post(
        "/jobs/run", {"operation": "transcode", "inputs": [asset["id"]], "params": params, "priority": 0}
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_someone_elses_asset_cannot_be_submitted(alice_browser, bob_api, upload, clip_path):
    theirs = upload(bob_api, clip_path)

    response = alice_browser.post(
        "/jobs/run", {"operation": "transcode", "inputs": [theirs["id"]], "params": "{}", "priority": 0}
    )

    assert response.status_code == 400
    assert not Job.objects.exists()
