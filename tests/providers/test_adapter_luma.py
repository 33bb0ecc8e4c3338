"""The Luma Dream Machine adapter against a local imitation of the API, over real HTTP."""

import pytest

from keys.provider_checks import CheckUnavailable
from providers.adapters import get_adapter
from providers.adapters.base import Poll, ProviderError, Request
from providers.adapters.luma import Luma
from tests.providers.fakes.base import Reply
from tests.providers.fakes.luma import FakeLuma

KEY = {"secret": "luma-test-key"}


@pytest.fixture
def fake(settings, clip_path):
    server = FakeLuma(clip_path).start()
    settings.MEDIAHUB_PROVIDERS = {"luma": {"base_url": server.url}}
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    yield server
    server.stop()


@pytest.fixture
def adapter():
    return Luma()


def request(**overrides) -> Request:
    fields = {
        "model": "ray-2",
        "prompt": "a tiger walking in snow",
        "duration": 9,
        "aspect_ratio": "9:16",
        "resolution": "1080p",
    } | overrides
    return Request(**fields)


def finish(adapter, fake, task_id: str) -> Poll:
    for _ in range(fake.polls_to_finish + 1):
        poll = adapter.poll(task_id, "ray-2", KEY)
    return poll


def raised(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value


def test_registry_resolves_luma_whose_models_take_no_start_image():
    adapter = get_adapter("luma")
    assert isinstance(adapter, Luma)
    assert set(adapter.models) == {"ray-2", "ray-flash-2"}
    assert all(info.image == "none" and info.durations == (5, 9) for info in adapter.models.values())
    assert adapter.models["ray-2"].resolutions[0] == "720p"


def test_create_posts_the_documented_video_generation(fake, adapter):
    submitted = adapter.create(request(), KEY)

    call = fake.calls("POST", "/dream-machine/v1/generations/video")[0]
    assert call.header("Authorization") == "Bearer luma-test-key"
    assert call.json() == {
        "generation_type": "video",
        "model": "ray-2",
        "prompt": "a tiger walking in snow",
        "aspect_ratio": "9:16",
        "resolution": "1080p",
        "duration": "9s",
    }
    assert submitted.task_id in fake.tasks
    assert submitted.poll_after is None


def test_create_never_sends_keyframes_even_with_an_image(fake, adapter):
    adapter.create(request(model="ray-flash-2", image_data_uri="data:image/png;base64,AAAA"), KEY)

    assert "keyframes" not in fake.calls("POST", "/dream-machine/v1/generations/video")[0].json()


def test_poll_maps_queued_dreaming_and_completed_with_the_cdn_url(fake, adapter):
    task = adapter.create(request(), KEY).task_id
    fake.fail_next.append(Reply(200, {"id": task, "state": "queued"}))

    queued = adapter.poll(task, "ray-2", KEY)
    dreaming = adapter.poll(task, "ray-2", KEY)
    completed = adapter.poll(task, "ray-2", KEY)

    assert [queued.state, dreaming.state, completed.state] == ["queued", "running", "succeeded"]
    assert dreaming.progress is None
    assert completed.video_url == f"{fake.url}/files/{task}.mp4"


def test_completed_without_a_video_is_a_failure(fake, adapter):
    fake.fail_next.append(Reply(200, {"id": "g1", "state": "completed", "assets": {"image": "x"}}))

    poll = adapter.poll("g1", "ray-2", KEY)

    assert (poll.state, poll.error.code) == ("failed", "provider_error")


def test_moderation_failure_reason_is_content_policy(fake, adapter):
    fake.outcome = "content_policy"

    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    assert (poll.state, poll.error.code) == ("failed", "content_policy")
    assert "moderation" in poll.error.message


def test_other_failure_reason_is_provider_error(fake, adapter):
    fake.outcome = "failed"

    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    assert (poll.state, poll.error.code) == ("failed", "provider_error")


def test_wrong_key_is_invalid_credentials(fake, adapter):
    error = raised(lambda: adapter.create(request(), {"secret": "luma-wrong"}))

    assert (error.code, error.message) == ("invalid_credentials", "Invalid API key provided")


def test_rate_limit_is_rate_limited_with_retry_after(fake, adapter):
    fake.fail_next.append(Reply(429, {"detail": "Too many requests"}, {"Retry-After": "3"}))

    error = raised(lambda: adapter.poll("g1", "ray-2", KEY))

    assert (error.code, error.retry_after) == ("rate_limited", 3.0)


def test_insufficient_credits_is_quota_exceeded(fake, adapter):
    fake.fail_next.append(Reply(400, {"detail": "Insufficient credits"}))

    assert raised(lambda: adapter.create(request(), KEY)).code == "quota_exceeded"


def test_moderated_prompt_at_create_is_content_policy(fake, adapter):
    fake.fail_next.append(Reply(400, {"detail": "Prompt not allowed because advanced moderation failed"}))

    assert raised(lambda: adapter.create(request(), KEY)).code == "content_policy"


def test_validation_errors_are_invalid_request_with_their_messages(fake, adapter):
    error = raised(lambda: adapter.create(request(model="ray-9"), KEY))

    assert (error.code, error.message) == ("invalid_request", "Input should be 'ray-2'")


def test_server_error_is_provider_error(fake, adapter):
    fake.fail_next.append(Reply(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"}))

    error = raised(lambda: adapter.poll("g1", "ray-2", KEY))

    assert (error.code, error.message) == ("provider_error", "HTTP 502")


def test_download_fetches_the_cdn_asset_without_the_key(fake, adapter, clip_path, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    content_type = adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=10 * 2**20)

    assert content_type == "video/mp4"
    assert (tmp_path / "out.mp4").read_bytes() == clip_path.read_bytes()
    assert fake.calls("GET", "/files/")[0].header("Authorization") == ""


def test_download_larger_than_the_limit_fails(fake, adapter, clip_path, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    error = raised(lambda: adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=clip_path.stat().st_size - 1))

    assert error.code == "provider_error"
    assert "larger than" in error.message


def test_expired_cdn_url_is_a_provider_error(fake, adapter, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)
    fake.expire_downloads = True

    error = raised(lambda: adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=10 * 2**20))

    assert error.code == "provider_error"
    assert "403" in error.message


def test_cancel_deletes_the_generation_and_ignores_an_unknown_one(fake, adapter):
    task = adapter.create(request(), KEY).task_id

    adapter.cancel(task, "ray-2", KEY)
    adapter.cancel(task, "ray-2", KEY)

    assert task not in fake.tasks
    assert len(fake.calls("DELETE", f"/dream-machine/v1/generations/{task}")) == 2


def test_validate_reports_the_credit_balance(fake, adapter):
    result = adapter.validate(KEY)

    assert (result.status, result.message) == ("active", "Credit balance $25.00.")


def test_validate_marks_an_empty_balance_quota_exceeded(fake, adapter):
    fake.credit_balance = 0

    assert adapter.validate(KEY).status == "quota_exceeded"


def test_validate_marks_a_wrong_key_invalid(fake, adapter):
    assert adapter.validate({"secret": "nope"}).status == "invalid"


def test_validate_reports_an_outage_as_unavailable(fake, adapter):
    fake.fail_next.append(Reply(503, {"detail": "Service unavailable"}))

    with pytest.raises(CheckUnavailable):
        adapter.validate(KEY)
