"""The Kling adapter against a local imitation of Kling's API, over real HTTP."""

import base64
import hashlib
import hmac
import json
import time

import pytest

from keys.provider_checks import CheckUnavailable
from providers.adapters import get_adapter
from providers.adapters.base import Poll, ProviderError, Request
from providers.adapters.kling import Kling, api_token
from tests.providers.fakes.base import Reply
from tests.providers.fakes.kling import FakeKling, envelope, unb64

KEY = {"access_key": FakeKling.access_key, "secret_key": FakeKling.secret_key}


@pytest.fixture
def fake(settings, clip_path):
    server = FakeKling(clip_path).start()
    settings.MEDIAHUB_PROVIDERS = {"kling": {"base_url": server.url}}
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    yield server
    server.stop()


@pytest.fixture
def adapter():
    return Kling()


def request(**overrides) -> Request:
    fields = {"model": "kling-v2-5-turbo", "prompt": "a paper boat on a river", "duration": 10, "aspect_ratio": "9:16",
              "resolution": "1080p"} | overrides  # fmt: skip
    return Request(**fields)


def finish(adapter, fake, task_id: str) -> Poll:
    for _ in range(fake.polls_to_finish + 1):
        poll = adapter.poll(task_id, "kling-v2-5-turbo", KEY)
    return poll


def raised(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value


def jwt_parts(authorization: str) -> tuple[dict, dict, bytes, str]:
    header, claims, signature = authorization.removeprefix("Bearer ").split(".")
    return json.loads(unb64(header)), json.loads(unb64(claims)), unb64(signature), f"{header}.{claims}"


def test_registry_resolves_kling_with_its_models():
    adapter = get_adapter("kling")
    assert isinstance(adapter, Kling)
    assert set(adapter.models) == {"kling-v2-5-turbo", "kling-v2-6", "kling-v2-1", "kling-v2-1-master"}
    assert adapter.models["kling-v2-1"].text is False
    assert all(info.durations == (5, 10) for info in adapter.models.values())


def test_every_request_carries_a_jwt_signed_with_the_secret_key(fake, adapter):
    before = int(time.time())
    adapter.create(request(), KEY)

    header, claims, signature, signed = jwt_parts(
        fake.calls("POST", "/v1/videos/text2video")[0].header("Authorization")
    )
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["iss"] == FakeKling.access_key
    assert before + 1800 <= claims["exp"] <= int(time.time()) + 1800
    assert claims["nbf"] == claims["exp"] - 1805
    assert signature == hmac.new(FakeKling.secret_key.encode(), signed.encode(), hashlib.sha256).digest()
    assert FakeKling.secret_key not in fake.requests[0].header("Authorization")


def test_api_token_uses_the_documented_claims_at_a_given_time():
    _, claims, _, _ = jwt_parts(api_token("ak", "sk", now=1_700_000_000))

    assert claims == {"iss": "ak", "exp": 1_700_001_800, "nbf": 1_699_999_995}


def test_create_posts_text2video_with_string_duration_and_pro_mode_for_1080p(fake, adapter):
    submitted = adapter.create(request(negative_prompt="blur"), KEY)

    body = fake.calls("POST", "/v1/videos/text2video")[0].json()
    assert body == {
        "model_name": "kling-v2-5-turbo",
        "prompt": "a paper boat on a river",
        "negative_prompt": "blur",
        "duration": "10",
        "mode": "pro",
        "aspect_ratio": "9:16",
    }
    assert submitted.task_id == f"text2video:{fake.next_id}"


def test_720p_is_std_mode_and_master_models_take_no_mode(fake, adapter):
    adapter.create(request(resolution="720p", duration=5), KEY)
    adapter.create(request(model="kling-v2-1-master"), KEY)

    first, second = (call.json() for call in fake.calls("POST", "/v1/videos/text2video"))
    assert (first["mode"], first["duration"]) == ("std", "5")
    assert "mode" not in second


def test_create_with_an_image_posts_image2video_with_bare_base64_and_no_aspect_ratio(fake, adapter):
    uri = "data:image/png;base64," + base64.b64encode(b"png-bytes").decode()

    submitted = adapter.create(request(model="kling-v2-1", image_data_uri=uri), KEY)

    body = fake.calls("POST", "/v1/videos/image2video")[0].json()
    assert body["image"] == base64.b64encode(b"png-bytes").decode()
    assert "aspect_ratio" not in body
    assert submitted.task_id.startswith("image2video:")


def test_create_encodes_a_local_image_when_no_data_uri_is_given(fake, adapter, tmp_path):
    image = tmp_path / "start.jpg"
    image.write_bytes(b"jpeg-bytes")

    adapter.create(request(image_path=image), KEY)

    assert fake.calls("POST", "/v1/videos/image2video")[0].json()["image"] == base64.b64encode(b"jpeg-bytes").decode()


def test_image_task_is_polled_under_image2video(fake, adapter):
    uri = "data:image/png;base64," + base64.b64encode(b"png-bytes").decode()
    task = adapter.create(request(image_data_uri=uri), KEY).task_id

    poll = finish(adapter, fake, task)

    assert poll.state == "succeeded"
    assert fake.calls("GET", "/v1/videos/image2video/")
    assert not fake.calls("GET", "/v1/videos/text2video/")


def test_poll_maps_submitted_processing_and_succeed_with_the_video_url(fake, adapter):
    task = adapter.create(request(), KEY).task_id
    raw = task.partition(":")[2]
    fake.fail_next.append(Reply(200, envelope(data={"task_id": raw, "task_status": "submitted"})))

    submitted = adapter.poll(task, "kling-v2-5-turbo", KEY)
    processing = adapter.poll(task, "kling-v2-5-turbo", KEY)
    succeeded = adapter.poll(task, "kling-v2-5-turbo", KEY)

    assert [submitted.state, processing.state, succeeded.state] == ["queued", "running", "succeeded"]
    assert processing.progress is None
    assert succeeded.video_url == f"{fake.url}/files/{raw}.mp4"
    assert fake.calls("GET", f"/v1/videos/text2video/{raw}")


def test_succeed_without_a_video_is_a_failure(fake, adapter):
    fake.fail_next.append(Reply(200, envelope(data={"task_id": "1", "task_status": "succeed", "task_result": {}})))

    poll = adapter.poll("text2video:1", "kling-v2-5-turbo", KEY)

    assert (poll.state, poll.error.code) == ("failed", "provider_error")


def test_risk_control_failure_is_content_policy(fake, adapter):
    fake.outcome = "content_policy"

    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    assert (poll.state, poll.error.code) == ("failed", "content_policy")
    assert "risk control" in poll.error.message


def test_other_task_failure_is_provider_error(fake, adapter):
    fake.outcome = "failed"

    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    assert (poll.state, poll.error.code) == ("failed", "provider_error")


def test_content_security_refusal_at_create_is_content_policy(fake, adapter):
    error = raised(lambda: adapter.create(request(prompt="something forbidden"), KEY))

    assert (error.code, error.http_status) == ("content_policy", 400)
    assert "1301" in error.message


@pytest.mark.parametrize("credential", [{"access_key": FakeKling.access_key, "secret_key": "wrong"},
                                        {"access_key": "AK-other", "secret_key": FakeKling.secret_key}])  # fmt: skip
def test_wrong_key_pair_is_invalid_credentials_without_echoing_it(fake, adapter, credential):
    error = raised(lambda: adapter.create(request(), credential))

    assert error.code == "invalid_credentials"
    assert credential["secret_key"] not in str(error)


def test_expired_token_code_is_invalid_credentials(fake, adapter):
    fake.fail_next.append(Reply(401, envelope(1004, "Authorization has expired")))

    error = raised(lambda: adapter.poll("text2video:1", "kling-v2-5-turbo", KEY))

    assert (error.code, error.message) == ("invalid_credentials", "Authorization has expired (code 1004)")


@pytest.mark.parametrize("code", [1302, 1303])
def test_rate_and_concurrency_limits_are_rate_limited_with_retry_after(fake, adapter, code):
    fake.fail_next.append(Reply(429, envelope(code, "parallel task over resource pack limit"), {"Retry-After": "4"}))

    error = raised(lambda: adapter.create(request(), KEY))

    assert (error.code, error.retry_after) == ("rate_limited", 4.0)


@pytest.mark.parametrize("code", [1101, 1102])
def test_arrears_and_used_up_resource_pack_are_quota_exceeded_not_rate_limited(fake, adapter, code):
    fake.fail_next.append(Reply(429, envelope(code, "resource pack exhausted")))

    assert raised(lambda: adapter.create(request(), KEY)).code == "quota_exceeded"


@pytest.mark.parametrize(("status", "code"), [(500, 5000), (503, 5001), (504, 5002)])
def test_server_codes_are_provider_error(fake, adapter, status, code):
    fake.fail_next.append(Reply(status, envelope(code, "Server internal error")))

    assert raised(lambda: adapter.poll("text2video:1", "kling-v2-5-turbo", KEY)).code == "provider_error"


def test_non_zero_code_in_a_200_answer_is_still_an_error(fake, adapter):
    fake.fail_next.append(Reply(200, envelope(5000, "Server internal error")))

    assert raised(lambda: adapter.create(request(), KEY)).code == "provider_error"


def test_invalid_parameter_is_invalid_request(fake, adapter):
    fake.fail_next.append(Reply(400, envelope(1201, "duration value is invalid")))

    assert raised(lambda: adapter.create(request(), KEY)).code == "invalid_request"


def test_unknown_model_at_create_is_model_retired(fake, adapter):
    fake.fail_next.append(Reply(404, envelope(1203, "model is not supported")))

    assert raised(lambda: adapter.create(request(), KEY)).code == "model_retired"


def test_download_writes_the_real_mp4_without_the_token(fake, adapter, clip_path, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)

    content_type = adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=10 * 2**20)

    assert content_type == "video/mp4"
    assert (tmp_path / "out.mp4").read_bytes() == clip_path.read_bytes()
    assert fake.calls("GET", "/files/")[0].header("Authorization") == ""


def test_expired_video_url_is_a_provider_error(fake, adapter, tmp_path):
    poll = finish(adapter, fake, adapter.create(request(), KEY).task_id)
    fake.expire_downloads = True

    error = raised(lambda: adapter.download(poll, KEY, tmp_path / "out.mp4", max_bytes=10 * 2**20))

    assert error.code == "provider_error"
    assert "403" in error.message


def test_cancel_is_a_no_op_because_kling_cannot_cancel(fake, adapter):
    task = adapter.create(request(), KEY).task_id
    calls = len(fake.requests)

    adapter.cancel(task, "kling-v2-5-turbo", KEY)

    assert len(fake.requests) == calls


def test_validate_reports_the_units_left_in_live_packs(fake, adapter):
    result = adapter.validate(KEY)

    assert (result.status, result.message) == ("active", "117.5 units left.")
    call = fake.calls("GET", "/account/costs")[0]
    assert int(call.query["end_time"][0]) - int(call.query["start_time"][0]) == 365 * 86400 * 1000


def test_validate_marks_used_up_packs_quota_exceeded(fake, adapter):
    fake.packs = [pack | {"status": "runOut", "remaining_quantity": 0} for pack in fake.packs]

    assert adapter.validate(KEY).status == "quota_exceeded"


def test_validate_accepts_an_account_without_prepaid_packs(fake, adapter):
    fake.packs = []

    assert adapter.validate(KEY).status == "active"


def test_validate_marks_a_wrong_secret_key_invalid(fake, adapter):
    assert adapter.validate(KEY | {"secret_key": "nope"}).status == "invalid"


def test_validate_reports_an_outage_as_unavailable(fake, adapter):
    fake.fail_next.append(Reply(503, envelope(5001, "Server temporarily unavailable")))

    with pytest.raises(CheckUnavailable):
        adapter.validate(KEY)
