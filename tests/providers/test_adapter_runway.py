"""The Runway adapter against a local imitation of Runway's API, over real HTTP."""

import base64

import pytest

from keys.provider_checks import CheckUnavailable
from providers.adapters import get_adapter
from providers.adapters.base import Poll, ProviderError, Request
from providers.adapters.runway import Runway
from tests.providers.fakes.base import Reply
from tests.providers.fakes.runway import FakeRunway

KEY = {"secret": FakeRunway.token}
PNG_URI = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nstart-frame").decode()


@pytest.fixture
def fake(settings, clip_path):
    server = FakeRunway(clip_path).start()
    settings.MEDIAHUB_PROVIDERS = {"runway": {"base_url": server.url}}
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    yield server
    server.stop()


@pytest.fixture
def adapter():
    return Runway()


def request(**overrides) -> Request:
    fields = {"model": "gen4.5", "prompt": "a lighthouse in a storm", "duration": 5, "aspect_ratio": "16:9",
              "resolution": "720p"} | overrides  # fmt: skip
    return Request(**fields)


def finish(adapter, fake, task_id: str) -> Poll:
    for _ in range(fake.polls_to_finish + 1):
        poll = adapter.poll(task_id, "gen4.5", KEY)
    return poll


def raised(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value


def test_registry_resolves_runway_with_its_current_models():
    adapter = get_adapter("runway")
    assert isinstance(adapter, Runway)
    assert set(adapter.models) == {"gen4.5", "gen4_turbo", "veo3.1", "veo3.1_fast"}
    turbo = adapter.models["gen4_turbo"]
    assert (turbo.image, turbo.text, turbo.durations) == ("required", False, (5, 10))
    assert adapter.models["gen4.5"].durations == tuple(range(2, 11))


def test_create_posts_text_to_video_in_camel_case_with_version_header(fake, adapter):
    submitted = adapter.create(request(seed=42), KEY)

    call = fake.calls("POST", "/v1/text_to_video")[0]
    assert call.header("Authorization") == f"Bearer {FakeRunway.token}"
    assert call.header("X-Runway-Version") == "2024-11-06"
    assert call.json() == {
        "model": "gen4.5",
        "promptText": "a lighthouse in a storm",
        "ratio": "1280:720",
        "duration": 5,
        "seed": 42,
    }
    assert submitted.task_id in fake.tasks


def test_create_with_an_image_posts_image_to_video_with_the_data_uri(fake, adapter):
    adapter.create(request(model="gen4_turbo", duration=10, aspect_ratio="21:9", image_data_uri=PNG_URI), KEY)

    body = fake.calls("POST", "/v1/image_to_video")[0].json()
    assert body["promptImage"] == PNG_URI
    assert (body["model"], body["ratio"], body["duration"]) == ("gen4_turbo", "1584:672", 10)
    assert not fake.calls("POST", "/v1/text_to_video")


def test_create_encodes_a_local_image_when_no_data_uri_is_given(fake, adapter, tmp_path):
    image = tmp_path / "start.jpg"
    image.write_bytes(b"jpeg-bytes")

    adapter.create(request(model="gen4_turbo", aspect_ratio="1:1", image_path=image), KEY)

    body = fake.calls("POST", "/v1/image_to_video")[0].json()
    assert body["promptImage"] == "data:image/jpeg;base64," + base64.b64encode(b"jpeg-bytes").decode()
    assert body["ratio"] == "960:960"


def test_veo_maps_resolution_onto_the_ratio_and_sends_the_negative_prompt_not_the_seed(fake, adapter):
    adapter.create(
        request(model="veo3.1", duration=8, aspect_ratio="9:16", resolution="1080p", negative_prompt="rain", seed=7),
        KEY,
    )

    body = fake.calls("POST", "/v1/text_to_video")[0].json()
    assert body == {"model": "veo3.1", "promptText": "a lighthouse in a storm", "ratio": "1080:1920",
                    "duration": 8, "negativePrompt": "rain"}  # fmt: skip


def test_create_refuses_a_ratio_the_model_lacks_without_calling_runway(fake, adapter):
    error = raised(lambda: adapter.create(request(aspect_ratio="1:1"), KEY))

    assert error.code == "invalid_request"
    assert not fake.requests


def test_create_refuses_an_image_over_runways_data_uri_limit(fake, adapter):
    huge = "data:image/png;base64," + "A" * (5 * 1024 * 1024)

    error = raised(lambda: adapter.create(request(model="gen4_turbo", image_data_uri=huge), KEY))

    assert error.code == "invalid_request"
    assert not fake.requests


def test_poll_maps_pending_throttled_running_with_progress_and_succeeded(fake, adapter):
    task = adapter.create(request(), KEY).task_id
    fake.polls_to_finish = 3
    fake.fail_next += [Reply(200, {"id": task, "status": "PENDING"}), Reply(200, {"id": task, "status": "THROTTLED"})]

    polls = [adapter.poll(task, "gen4.5", KEY) for _ in range(6)]

    assert [p.state for p in polls] == ["queued", "queued", "running", "running", "running", "succeeded"]
    assert [p.progress for p in polls[2:5]] == [25.0, 50.0, 75.0]
    assert polls[-1].video_url == f"{fake.url}/files/{task}.mp4"


def test_poll_maps_cancelled(fake, adapter):
    task = adapter.create(request(), KEY).task_id

    adapter.cancel(task, "gen4.5", KEY)

    assert adapter.poll(task, "gen4.5", KEY).state == "cancelled"


def test_succeeded_without_output_is_a_failure(fake, adapter):
    fake.fail_next.append(Reply(200, {"id": "t1", "status": "SUCCEEDED", "output": []}))

    poll = adapter.poll("t1", "gen4.5", KEY)

    assert (poll.state, poll.error.code) == ("failed", "provider_error")


def test_safety_failure_code_is_content_policy(fake, adapter):
    poll = finish(adapter, fake, adapter.create(request(prompt="something forbidden"), KEY).task_id)

    assert (poll.state, poll.error.code) == ("failed", "content_policy")
    assert "SAFETY.INPUT.TEXT" in poll.error.message


def test_input_preprocessing_safety_is_content_policy_too(fake, adapter):
    failed = {"id": "t1", "status": "FAILED", "failure": "Rejected", "failureCode": "INPUT_PREPROCESSING.SAFETY.TEXT"}
    fake.fail_next.append(Reply(200, failed))

    assert adapter.poll("t1", "gen4.5", KEY).error.code == "content_policy"


def test_other_failure_is_provider_error(fake, adapter):
    fake.outcome = "failed"

    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    assert (poll.state, poll.error.code) == ("failed", "provider_error")


def test_wrong_secret_is_invalid_credentials_without_echoing_it(fake, adapter):
    error = raised(lambda: adapter.create(request(), {"secret": "key_wrong"}))

    assert (error.code, error.message) == ("invalid_credentials", "Invalid API secret")
    assert "key_wrong" not in str(error)


def test_rate_limit_is_rate_limited_with_retry_after(fake, adapter):
    fake.fail_next.append(Reply(429, {"error": "Too many requests"}, {"Retry-After": "7"}))

    error = raised(lambda: adapter.poll("t1", "gen4.5", KEY))

    assert (error.code, error.retry_after) == ("rate_limited", 7.0)


def test_not_enough_credits_is_quota_exceeded(fake, adapter):
    fake.fail_next.append(Reply(400, {"error": "You do not have enough credits to run this task."}))

    assert raised(lambda: adapter.create(request(), KEY)).code == "quota_exceeded"


def test_validation_issues_are_invalid_request_with_their_messages(fake, adapter):
    error = raised(lambda: adapter.create(request(model="gen4_turbo"), KEY))  # no start image

    assert error.code == "invalid_request"
    assert error.message.startswith("Validation of body failed; model: this model is not available")


@pytest.mark.parametrize("status", [502, 503, 504])
def test_shed_load_is_provider_error(fake, adapter, status):
    fake.fail_next.append(Reply(status, b"<html>overloaded</html>", {"Content-Type": "text/html"}))

    error = raised(lambda: adapter.poll("t1", "gen4.5", KEY))

    assert (error.code, error.http_status) == ("provider_error", status)


def test_download_writes_the_real_mp4_without_the_key(fake, adapter, clip_path, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    content_type = adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=10 * 2**20)

    assert content_type == "video/mp4"
    assert (tmp_path / "out.mp4").read_bytes() == clip_path.read_bytes()
    assert fake.calls("GET", "/files/")[0].header("Authorization") == ""


def test_expired_output_url_is_a_provider_error(fake, adapter, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)
    fake.expire_downloads = True

    error = raised(lambda: adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=10 * 2**20))

    assert error.code == "provider_error"
    assert "403" in error.message


def test_cancel_deletes_the_task_and_ignores_an_unknown_one(fake, adapter):
    task = adapter.create(request(), KEY).task_id

    adapter.cancel(task, "gen4.5", KEY)
    adapter.cancel("00000000-0000-0000-0000-000000000000", "gen4.5", KEY)

    assert fake.tasks[task]["status"] == "CANCELLED"
    assert fake.calls("DELETE", f"/v1/tasks/{task}")[0].header("X-Runway-Version") == "2024-11-06"


def test_cancel_failure_other_than_not_found_raises(fake, adapter):
    fake.fail_next.append(Reply(503, {"error": "Shedding load"}))

    assert raised(lambda: adapter.cancel("t1", "gen4.5", KEY)).code == "provider_error"


def test_validate_reports_the_credit_balance(fake, adapter):
    result = adapter.validate(KEY)

    assert (result.status, result.message) == ("active", "1200 credits left.")
    assert fake.calls("GET", "/v1/organization")


def test_validate_marks_an_empty_balance_quota_exceeded(fake, adapter):
    fake.credit_balance = 0

    assert adapter.validate(KEY).status == "quota_exceeded"


def test_validate_marks_a_wrong_secret_invalid(fake, adapter):
    assert adapter.validate({"secret": "key_nope"}).status == "invalid"


def test_validate_reports_an_outage_as_unavailable(fake, adapter):
    fake.fail_next.append(Reply(503, {"error": "Shedding load"}))

    with pytest.raises(CheckUnavailable):
        adapter.validate(KEY)
