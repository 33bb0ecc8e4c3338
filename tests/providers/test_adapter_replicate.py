"""The Replicate adapter against a local imitation of the API, over real HTTP."""

import pytest

from keys.provider_checks import CheckUnavailable
from providers.adapters import get_adapter
from providers.adapters.base import Poll, ProviderError, Request
from providers.adapters.replicate import Replicate
from tests.providers.fakes.base import Reply
from tests.providers.fakes.replicate import FakeReplicate, problem

KEY = {"secret": "r8_test_token"}
IMAGE = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
def fake(settings, clip_path):
    server = FakeReplicate(clip_path).start()
    settings.MEDIAHUB_PROVIDERS = {"replicate": {"base_url": server.url}}
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    yield server
    server.stop()


@pytest.fixture
def adapter():
    return Replicate()


def request(**overrides) -> Request:
    fields = {
        "model": "minimax/video-01",
        "prompt": "a lighthouse at dusk",
        "duration": 6,
        "aspect_ratio": "16:9",
        "resolution": "720p",
    } | overrides
    return Request(**fields)


def sent_input(fake, model: str) -> dict:
    return fake.calls("POST", f"/v1/models/{model}/predictions")[-1].json()["input"]


def finish(adapter, fake, task_id: str) -> Poll:
    for _ in range(fake.polls_to_finish + 1):
        poll = adapter.poll(task_id, "minimax/video-01", KEY)
    return poll


def raised(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value


def test_registry_resolves_replicate_with_an_input_mapping_per_model():
    adapter = get_adapter("replicate")
    assert isinstance(adapter, Replicate)
    assert set(adapter.models) == {"minimax/video-01", "kwaivgi/kling-v2.1", "google/veo-3"}
    kling = adapter.models["kwaivgi/kling-v2.1"]
    assert (kling.image, kling.text) == ("required", False)


def test_create_posts_to_the_models_endpoint_with_bearer_token_and_no_wait(fake, adapter):
    submitted = adapter.create(request(), KEY)

    call = fake.calls("POST", "/v1/models/minimax/video-01/predictions")[0]
    assert call.header("Authorization") == "Bearer r8_test_token"
    assert call.header("Prefer") == ""
    assert call.json() == {"input": {"prompt": "a lighthouse at dusk"}}
    assert submitted.task_id in fake.tasks


def test_minimax_takes_the_start_image_as_first_frame_image(fake, adapter):
    adapter.create(request(image_data_uri=IMAGE), KEY)

    assert sent_input(fake, "minimax/video-01") == {"prompt": "a lighthouse at dusk", "first_frame_image": IMAGE}


def test_kling_maps_resolution_to_mode_and_sends_start_image(fake, adapter):
    adapter.create(
        request(
            model="kwaivgi/kling-v2.1", duration=10, resolution="1080p", negative_prompt="blur", image_data_uri=IMAGE
        ),
        KEY,
    )

    assert sent_input(fake, "kwaivgi/kling-v2.1") == {
        "prompt": "a lighthouse at dusk",
        "start_image": IMAGE,
        "duration": 10,
        "mode": "pro",
        "negative_prompt": "blur",
    }


def test_veo_takes_every_field_it_documents(fake, adapter):
    adapter.create(
        request(
            model="google/veo-3", duration=8, aspect_ratio="9:16", resolution="1080p", seed=42, negative_prompt="text"
        ),
        KEY,
    )

    assert sent_input(fake, "google/veo-3") == {
        "prompt": "a lighthouse at dusk",
        "duration": 8,
        "aspect_ratio": "9:16",
        "resolution": "1080p",
        "negative_prompt": "text",
        "seed": 42,
    }


def test_poll_maps_starting_processing_and_succeeded_without_progress(fake, adapter):
    task = adapter.create(request(), KEY).task_id
    fake.fail_next.append(Reply(200, {"id": task, "status": "starting", "output": None}))

    polls = [adapter.poll(task, "minimax/video-01", KEY) for _ in range(3)]

    assert [poll.state for poll in polls] == ["queued", "running", "succeeded"]
    assert all(poll.progress is None for poll in polls)
    assert polls[-1].video_url == f"{fake.url}/files/{task}.mp4"


def test_a_list_of_outputs_yields_the_first_url(fake, adapter):
    fake.output_list = True
    task = adapter.create(request(), KEY).task_id

    assert finish(adapter, fake, task).video_url == f"{fake.url}/files/{task}.mp4"


def test_succeeded_without_output_is_a_failure(fake, adapter):
    fake.fail_next.append(Reply(200, {"id": "p1", "status": "succeeded", "output": []}))

    poll = adapter.poll("p1", "minimax/video-01", KEY)

    assert (poll.state, poll.error.code) == ("failed", "provider_error")


def test_cancel_posts_to_cancel_and_the_prediction_reads_cancelled(fake, adapter):
    task = adapter.create(request(), KEY).task_id

    adapter.cancel(task, "minimax/video-01", KEY)
    adapter.cancel("unknown", "minimax/video-01", KEY)

    assert fake.calls("POST", f"/v1/predictions/{task}/cancel")
    assert adapter.poll(task, "minimax/video-01", KEY).state == "cancelled"


def test_flagged_prediction_fails_with_content_policy(fake, adapter):
    fake.outcome = "content_policy"

    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    assert (poll.state, poll.error.code) == ("failed", "content_policy")
    assert "E005" in poll.error.message


def test_crashed_prediction_is_a_provider_error(fake, adapter):
    fake.outcome = "failed"

    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    assert (poll.state, poll.error.code) == ("failed", "provider_error")


def test_wrong_token_is_invalid_credentials_with_the_problem_detail(fake, adapter):
    error = raised(lambda: adapter.create(request(), {"secret": "r8_wrong"}))

    assert (error.code, error.message) == ("invalid_credentials", "You did not pass a valid authentication token")


def test_throttling_is_rate_limited_with_retry_after(fake, adapter):
    throttled = problem(429, "Request was throttled.", "Request was throttled. Expected available in 4 seconds.")
    fake.fail_next.append(Reply(429, throttled.body, {"Retry-After": "4"}))

    error = raised(lambda: adapter.create(request(), KEY))

    assert (error.code, error.retry_after) == ("rate_limited", 4.0)


def test_insufficient_credit_402_is_quota_exceeded(fake, adapter):
    fake.fail_next.append(problem(402, "Insufficient credit", "You have insufficient credit to run this model."))

    assert raised(lambda: adapter.create(request(), KEY)).code == "quota_exceeded"


def test_server_error_is_provider_error(fake, adapter):
    fake.fail_next.append(problem(500, "Internal Server Error", "Something went wrong."))

    assert raised(lambda: adapter.poll("p1", "minimax/video-01", KEY)).code == "provider_error"


def test_a_model_replicate_no_longer_serves_is_model_retired(fake, adapter):
    fake.models.discard("google/veo-3")

    error = raised(lambda: adapter.create(request(model="google/veo-3", duration=8), KEY))

    assert (error.code, error.http_status) == ("model_retired", 404)


def test_refused_input_is_invalid_request(fake, adapter):
    fake.fail_next.append(problem(422, "Input validation failed", "- input.duration: must be one of 5, 10"))

    error = raised(lambda: adapter.create(request(), KEY))

    assert (error.code, error.message) == ("invalid_request", "- input.duration: must be one of 5, 10")


def test_download_fetches_the_output_without_the_token(fake, adapter, clip_path, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    assert adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=10 * 2**20) == "video/mp4"
    assert (tmp_path / "out.mp4").read_bytes() == clip_path.read_bytes()
    assert fake.calls("GET", "/files/")[0].header("Authorization") == ""


def test_download_larger_than_the_limit_fails(fake, adapter, clip_path, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    error = raised(lambda: adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=clip_path.stat().st_size - 1))

    assert "larger than" in error.message


def test_expired_output_url_is_a_provider_error(fake, adapter, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)
    fake.expire_downloads = True

    assert raised(lambda: adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=2**20)).code == "provider_error"


def test_validate_names_the_account(fake, adapter):
    result = adapter.validate(KEY)

    assert (result.status, result.message) == ("active", "Replicate account alice.")


def test_validate_marks_a_wrong_token_invalid(fake, adapter):
    assert adapter.validate({"secret": "r8_wrong"}).status == "invalid"


def test_validate_reports_an_outage_as_unavailable(fake, adapter):
    fake.fail_next.append(problem(503, "Service Unavailable", "Try again later."))

    with pytest.raises(CheckUnavailable):
        adapter.validate(KEY)
