"""The OpenAI Videos adapter against a local imitation of the API, over real HTTP."""

import base64

import pytest

from keys.provider_checks import CheckUnavailable
from providers.adapters import get_adapter
from providers.adapters.base import Poll, ProviderError, Request
from providers.adapters.openai import OpenAIVideos
from tests.providers.fakes.base import Reply
from tests.providers.fakes.openai import FakeOpenAI, openai_error

KEY = {"secret": "sk-test-openai"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def fake(settings, clip_path):
    server = FakeOpenAI(clip_path).start()
    settings.MEDIAHUB_PROVIDERS = {"openai": {"base_url": server.url}}
    yield server
    server.stop()


@pytest.fixture
def adapter():
    return OpenAIVideos()


def request(**overrides) -> Request:
    fields = {
        "model": "sora-2",
        "prompt": "a paper boat on a river",
        "duration": 8,
        "aspect_ratio": "16:9",
        "resolution": "720p",
    } | overrides
    return Request(**fields)


def finish(adapter, fake, task_id: str) -> Poll:
    for _ in range(fake.polls_to_finish + 1):
        poll = adapter.poll(task_id, "sora-2", KEY)
    return poll


def raised(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value


def test_registry_resolves_openai_with_sora_models_and_prices():
    adapter = get_adapter("openai")
    assert isinstance(adapter, OpenAIVideos)
    assert adapter.models["sora-2"].durations == (4, 8, 12)
    assert adapter.models["sora-2-pro"].resolutions == ("720p", "1024p")
    assert adapter.models["sora-2"].price_per_second == 0.10


def test_create_posts_documented_multipart_fields_with_bearer_key(fake, adapter):
    submitted = adapter.create(request(), KEY)

    call = fake.calls("POST", "/v1/videos")[0]
    assert call.header("Authorization") == "Bearer sk-test-openai"
    assert call.header("Content-Type").startswith("multipart/form-data; boundary=")
    assert fake.created == [
        {"model": "sora-2", "prompt": "a paper boat on a river", "seconds": "8", "size": "1280x720"}
    ]
    assert submitted.task_id.startswith("video_")


def test_create_sends_start_image_as_input_reference_file_part(fake, adapter, tmp_path):
    image = tmp_path / "start.png"
    image.write_bytes(PNG)
    adapter.create(request(image_path=image, image_data_uri="data:image/png;base64,AAAA"), KEY)

    part = fake.created[0]["input_reference"]
    assert part == {"filename": "start.png", "content_type": "image/png", "data": PNG}


def test_create_decodes_data_uri_when_no_local_image(fake, adapter):
    uri = "data:image/jpeg;base64," + base64.b64encode(b"jpeg-bytes").decode()
    adapter.create(request(image_data_uri=uri), KEY)

    part = fake.created[0]["input_reference"]
    assert (part["content_type"], part["data"]) == ("image/jpeg", b"jpeg-bytes")


def test_create_maps_portrait_1024p_to_pro_size(fake, adapter):
    adapter.create(request(model="sora-2-pro", aspect_ratio="9:16", resolution="1024p", duration=12), KEY)

    assert fake.created[0] | {"prompt": ""} == {
        "model": "sora-2-pro",
        "prompt": "",
        "seconds": "12",
        "size": "1024x1792",
    }


def test_create_refuses_a_size_the_model_lacks_without_calling_the_provider(fake, adapter):
    error = raised(lambda: adapter.create(request(resolution="1024p"), KEY))

    assert error.code == "invalid_request"
    assert fake.requests == []


def test_poll_maps_in_progress_then_completed_with_progress_and_content_url(fake, adapter):
    task = adapter.create(request(), KEY).task_id

    running = adapter.poll(task, "sora-2", KEY)
    done = adapter.poll(task, "sora-2", KEY)

    assert (running.state, running.progress) == ("running", 50)
    assert (done.state, done.progress, done.error) == ("succeeded", 100, None)
    assert done.video_url == f"{fake.url}/v1/videos/{task}/content"


def test_poll_maps_queued(fake, adapter):
    fake.fail_next.append(Reply(200, {"id": "video_1", "object": "video", "status": "queued", "progress": 0}))

    poll = adapter.poll("video_1", "sora-2", KEY)

    assert (poll.state, poll.progress) == ("queued", 0)


def test_moderation_blocked_video_fails_with_content_policy(fake, adapter):
    fake.outcome = "content_policy"
    task = adapter.create(request(), KEY).task_id

    poll = finish(adapter, fake, task)

    assert poll.state == "failed"
    assert poll.error.code == "content_policy"
    assert "moderation" in poll.error.message


def test_failed_video_is_a_provider_error(fake, adapter):
    fake.outcome = "failed"
    task = adapter.create(request(), KEY).task_id

    poll = finish(adapter, fake, task)

    assert (poll.state, poll.error.code, poll.error.message) == ("failed", "provider_error", "Video generation failed.")


def test_poll_after_header_becomes_the_poll_hint(fake, adapter):
    fake.poll_after_ms = 2500
    submitted = adapter.create(request(), KEY)

    poll = adapter.poll(submitted.task_id, "sora-2", KEY)

    assert submitted.poll_after == 2.5
    assert poll.poll_after == 2.5


def test_no_poll_after_header_leaves_no_hint(fake, adapter):
    assert adapter.create(request(), KEY).poll_after is None


def test_wrong_key_is_invalid_credentials_without_echoing_it(fake, adapter):
    error = raised(lambda: adapter.create(request(), {"secret": "sk-wrong-1234567890"}))

    assert (error.code, error.http_status) == ("invalid_credentials", 401)
    assert "sk-wrong-1234567890" not in error.message


def test_rate_limit_is_rate_limited_with_retry_after(fake, adapter):
    limited = openai_error(429, "Rate limit reached for requests.", "rate_limit_exceeded", "requests")
    fake.fail_next.append(Reply(limited.status, limited.body, {"Retry-After": "7"}))

    error = raised(lambda: adapter.create(request(), KEY))

    assert (error.code, error.retry_after) == ("rate_limited", 7.0)


def test_insufficient_quota_429_is_quota_exceeded_not_rate_limited(fake, adapter):
    fake.fail_next.append(
        openai_error(429, "You exceeded your current quota.", "insufficient_quota", "insufficient_quota")
    )

    error = raised(lambda: adapter.create(request(), KEY))

    assert error.code == "quota_exceeded"


def test_server_error_is_provider_error(fake, adapter):
    fake.fail_next.append(openai_error(500, "The server had an error.", None, "server_error"))

    assert raised(lambda: adapter.poll("video_1", "sora-2", KEY)).code == "provider_error"


def test_model_not_found_is_model_retired(fake, adapter):
    fake.fail_next.append(openai_error(404, "The model `sora-2` does not exist.", "model_not_found"))

    error = raised(lambda: adapter.create(request(), KEY))

    assert error.code == "model_retired"
    assert "no longer serves the model" in error.message


def test_deprecation_message_is_model_retired(fake, adapter):
    fake.fail_next.append(openai_error(400, "sora-2 has been deprecated on this endpoint.", None))

    assert raised(lambda: adapter.create(request(), KEY)).code == "model_retired"


def test_moderation_refusal_at_create_is_content_policy(fake, adapter):
    fake.fail_next.append(openai_error(400, "Your request was blocked by our moderation system.", "moderation_blocked"))

    assert raised(lambda: adapter.create(request(), KEY)).code == "content_policy"


def test_unknown_video_is_invalid_request_not_retired(fake, adapter):
    assert raised(lambda: adapter.poll("video_missing", "sora-2", KEY)).code == "invalid_request"


def test_download_streams_the_content_endpoint_with_the_key(fake, adapter, clip_path, tmp_path):
    task = adapter.create(request(), KEY).task_id
    poll = finish(adapter, fake, task)

    content_type = adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=10 * 2**20)

    assert content_type == "video/mp4"
    assert (tmp_path / "out.mp4").read_bytes() == clip_path.read_bytes()
    assert fake.calls("GET", f"/v1/videos/{task}/content")[0].header("Authorization") == "Bearer sk-test-openai"


def test_download_larger_than_the_limit_fails(fake, adapter, clip_path, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    error = raised(lambda: adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=clip_path.stat().st_size - 1))

    assert error.code == "provider_error"
    assert "larger than" in error.message


def test_expired_content_is_a_provider_error_not_a_bad_key(fake, adapter, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)
    fake.expire_downloads = True

    error = raised(lambda: adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=10 * 2**20))

    assert (error.code, error.http_status) == ("provider_error", 403)


def test_download_never_sends_the_key_off_the_provider(fake, adapter, tmp_path):
    poll = Poll(state="succeeded", video_url="http://127.0.0.2:9/v1/videos/x/content")

    assert raised(lambda: adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=2**20)).code == "provider_error"
    assert fake.requests == []


def test_cancel_deletes_the_video_and_ignores_an_unknown_one(fake, adapter):
    task = adapter.create(request(), KEY).task_id

    adapter.cancel(task, "sora-2", KEY)
    adapter.cancel(task, "sora-2", KEY)

    assert len(fake.calls("DELETE", f"/v1/videos/{task}")) == 2
    assert task not in fake.tasks


def test_validate_lists_models_for_a_working_key(fake, adapter):
    assert adapter.validate(KEY).status == "active"
    assert fake.calls("GET", "/v1/models")


def test_validate_marks_a_wrong_key_invalid(fake, adapter):
    result = adapter.validate({"secret": "sk-wrong"})

    assert result.status == "invalid"
    assert "Incorrect API key" in result.message


def test_validate_marks_an_exhausted_quota(fake, adapter):
    fake.fail_next.append(openai_error(429, "You exceeded your current quota.", "insufficient_quota"))

    assert adapter.validate(KEY).status == "quota_exceeded"


def test_validate_reports_an_outage_as_unavailable_not_invalid(fake, adapter):
    fake.fail_next.append(openai_error(503, "Service unavailable.", None, "server_error"))

    with pytest.raises(CheckUnavailable):
        adapter.validate(KEY)
