"""The router over each provider's imitation server, end to end through the API: Runway (progress, an expired
download URL, image to video), Kling as a fallback with its signed JWT, Luma and Replicate; key validation
against the providers; and the job's webhook. Jobs run inline when their transaction commits."""

import base64
import json

import pytest

from jobs.realtime import JobEvents
from keys.models import ProviderCredential
from keys.services import provider_credential_create
from tests.jobs.test_webhooks import verify
from tests.media import ffmpeg
from tests.providers.fakes.base import Reply
from tests.providers.fakes.kling import FakeKling
from tests.providers.fakes.luma import FakeLuma
from tests.providers.fakes.openai import FakeOpenAI
from tests.providers.fakes.replicate import FakeReplicate
from tests.providers.fakes.runway import FakeRunway
from tests.providers.test_generations import quota_reply

GEN45 = {"provider": "runway", "model": "gen4.5", "prompt": "A lighthouse in a storm", "duration": 5}
TURBO = {"provider": "runway", "model": "gen4_turbo", "prompt": "The waves rise", "duration": 5}
SORA = {"provider": "openai", "model": "sora-2", "prompt": "A paper boat on a river", "duration": 4}
KLING_KEY = {"access_key": FakeKling.access_key, "secret_key": FakeKling.secret_key}
DOWN = Reply(503, b"Service Unavailable", {"Content-Type": "text/plain"})


class OnceExpiredRunway(FakeRunway):
    """Its first video URL has expired by the time it is fetched; the URL a fresh poll hands out works."""

    def video_reply(self) -> Reply:
        self.expire_downloads = len(self.calls("GET", "/files/")) == 1
        return super().video_reply()


@pytest.fixture
def serve(settings, provider_video):
    """serve(FakeClass, name) → a started imitation set as that provider's base URL (stopped after the test)."""
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    settings.MEDIAHUB_PROVIDERS = {}
    started = []

    def _serve(fake_class, name: str):
        fake = fake_class(provider_video).start()
        started.append(fake)
        settings.MEDIAHUB_PROVIDERS = settings.MEDIAHUB_PROVIDERS | {name: {"base_url": fake.url}}
        return fake

    yield _serve
    for fake in started:
        fake.stop()


@pytest.fixture
def runway(serve):
    return serve(FakeRunway, "runway")


@pytest.fixture
def runway_key(alice):
    return provider_credential_create(owner=alice[0], provider="runway", secret=FakeRunway.token)


@pytest.fixture
def key_for(alice):
    """key_for(provider, **parts) → alice's credential for that provider."""
    return lambda provider, **parts: provider_credential_create(owner=alice[0], provider=provider, **parts)


@pytest.fixture(scope="session")
def png_path(tmp_path_factory):
    """A 64×48 PNG start frame."""
    path = tmp_path_factory.mktemp("router-providers") / "start.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1", "-frames:v", "1", str(path))
    return path


@pytest.fixture
def events(monkeypatch):
    """Every (status, stage, progress) the job announces while it runs."""
    seen: list[tuple[str, str, float]] = []
    original = JobEvents.changed

    def record(job):
        seen.append((job.status, job.stage, job.progress))
        original(job)

    monkeypatch.setattr(JobEvents, "changed", staticmethod(record))
    return seen


def outcomes(generation: dict) -> list[tuple]:
    return [(t["provider"], t["outcome"], t.get("code")) for t in generation["providers_tried"]]


# --- Runway ---------------------------------------------------------------------------------------------------


def test_runway_generation_reports_progress_and_costs_price_times_duration(
    alice_api, generate, runway, runway_key, events
):
    runway.polls_to_finish = 3

    code, generation = generate(alice_api, GEN45 | {"aspect_ratio": "9:16"})

    assert code == 202
    assert generation["status"] == "completed", generation["error"]
    (created,) = runway.calls("POST", "/v1/")
    assert created.path == "/v1/text_to_video"
    assert created.json() == {"model": "gen4.5", "ratio": "720:1280", "duration": 5,
                              "promptText": "A lighthouse in a storm"}  # fmt: skip
    assert created.header("X-Runway-Version") == "2024-11-06"
    generating = [progress for status, stage, progress in events if stage == "generating"]
    assert generating == sorted(generating) and len(set(generating)) == 3, events  # 25, 50, 75 % from Runway
    assert all(5 < progress < 90 for progress in generating)
    assert events[-1][0] == "succeeded" and generation["progress"] == 100
    assert generation["cost"] == pytest.approx(0.60)  # 5 s at 0.12 USD
    assert generation["estimated_cost"] == pytest.approx(0.60)
    assert (generation["width"], generation["height"]) == (320, 240)
    assert outcomes(generation) == [("runway", "completed", None)]
    assert generation["providers_tried"][0]["credential"] == runway_key.masked


def test_an_expired_download_url_is_replaced_by_a_fresh_poll(alice_api, generate, serve, runway_key):
    runway = serve(OnceExpiredRunway, "runway")

    _, generation = generate(alice_api, GEN45)

    assert generation["status"] == "completed", generation["error"]
    fetched = ["video" if r.path.startswith("/files/") else "poll" for r in runway.requests if r.method == "GET"]
    assert fetched == ["poll", "poll", "video", "poll", "video"]  # done, expired, polled again, fresh URL
    assert outcomes(generation) == [("runway", "completed", None)]
    assert generation["cost"] == pytest.approx(0.60)


def test_a_download_that_keeps_failing_fails_the_generation(alice_api, generate, runway, runway_key):
    runway.expire_downloads = True

    _, generation = generate(alice_api, GEN45)

    assert generation["status"] == "failed"
    assert generation["error"]["code"] == "provider_error"
    assert generation["error"]["message"].startswith("runway: Downloading the video failed")
    assert len(runway.calls("GET", "/files/")) == 2  # the first URL, and the one a fresh poll gave
    assert len(runway.calls("POST", "/v1/")) == 1  # no second, paid, task
    assert outcomes(generation) == [("runway", "failed", "provider_error")]
    assert generation["video"] is None and generation["cost"] == 0
    runway_key.refresh_from_db()
    assert runway_key.status == "active"  # an expired URL says nothing against the key


# --- Kling as the fallback ------------------------------------------------------------------------------------


def test_kling_takes_over_when_openai_is_out_of_quota(alice_api, generate, serve, key_for):
    openai = serve(FakeOpenAI, "openai")
    kling = serve(FakeKling, "kling")
    openai.fail_next = [quota_reply()]
    key_for("openai", secret=FakeOpenAI.token)
    kling_key = key_for("kling", **KLING_KEY)

    _, generation = generate(alice_api, SORA | {"fallback": ["kling", "local"]})

    assert generation["status"] == "completed", generation["error"]
    assert (generation["provider"], generation["model"]) == ("kling", "kling-v2-5-turbo")
    assert outcomes(generation) == [
        ("openai", "next_credential", "quota_exceeded"),
        ("openai", "failed", "no_credentials"),
        ("kling", "completed", None),
    ]
    (created,) = kling.calls("POST", "/v1/videos/")
    assert created.path == "/v1/videos/text2video"
    # the nearest Kling makes to 4 s, at the default 16:9 and 720p (std mode)
    assert created.json() == {"model_name": "kling-v2-5-turbo", "prompt": SORA["prompt"], "duration": "5",
                              "mode": "std", "aspect_ratio": "16:9"}  # fmt: skip
    # every API call's JWT passed the imitation's check: signed with the secret key, issued by the access key, live
    api_calls = [r for r in kling.requests if not r.path.startswith("/files/")]  # the CDN wants no token
    assert len(api_calls) >= 3 and all(kling.refuse_token(r.header("Authorization")) is None for r in api_calls)
    assert generation["cost"] == pytest.approx(0.21)  # 5 s at 0.042 USD
    kling_key.refresh_from_db()
    assert kling_key.status == "active" and kling_key.last_used_at is not None


# --- Luma and Replicate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fake_class", "body", "create_path", "sent", "cost"),
    [
        pytest.param(
            FakeLuma,
            {"provider": "luma", "model": "ray-flash-2", "duration": 9, "aspect_ratio": "1:1"},
            "/dream-machine/v1/generations/video",
            {"model": "ray-flash-2", "duration": "9s", "aspect_ratio": "1:1", "resolution": "720p"},
            0.432,  # 9 s at 0.048 USD
            id="luma",
        ),
        pytest.param(
            FakeReplicate,
            {"provider": "replicate", "model": "google/veo-3", "duration": 4, "aspect_ratio": "9:16"},
            "/v1/models/google/veo-3/predictions",
            {"input": {"prompt": "Fireflies over a pond", "duration": 4, "aspect_ratio": "9:16", "resolution": "720p"}},
            1.60,  # 4 s at 0.40 USD
            id="replicate",
        ),
    ],
)
def test_provider_generation_end_to_end(alice_api, generate, serve, key_for, fake_class, body, create_path, sent, cost):
    fake = serve(fake_class, body["provider"])
    key_for(body["provider"], secret=fake_class.token)

    _, generation = generate(alice_api, body | {"prompt": "Fireflies over a pond"})

    assert generation["status"] == "completed", generation["error"]
    (created,) = [r for r in fake.requests if r.method == "POST"]
    assert created.path == create_path
    assert created.json().items() >= sent.items()
    assert generation["cost"] == pytest.approx(cost) and generation["estimated_cost"] == pytest.approx(cost)
    assert generation["video"]["kind"] == "video" and generation["poster"]["kind"] == "image"
    assert outcomes(generation) == [(body["provider"], "completed", None)]


# --- image to video -------------------------------------------------------------------------------------------


def test_image_to_video_sends_the_start_image_as_a_data_uri(alice_api, generate, upload, png_path, runway, runway_key):
    image = upload(alice_api, png_path)

    _, generation = generate(alice_api, TURBO | {"image": image["id"], "aspect_ratio": "1:1"})

    assert generation["status"] == "completed", generation["error"]
    assert generation["image"] == image["id"]
    (created,) = runway.calls("POST", "/v1/")
    assert created.path == "/v1/image_to_video"
    sent = created.json()
    assert (sent["model"], sent["ratio"], sent["duration"]) == ("gen4_turbo", "960:960", 5)
    prefix = "data:image/png;base64,"
    assert sent["promptImage"].startswith(prefix)
    assert base64.b64decode(sent["promptImage"].removeprefix(prefix)) == png_path.read_bytes()
    assert generation["cost"] == pytest.approx(0.25)  # 5 s at 0.05 USD


def test_a_fallback_that_cannot_take_the_image_is_skipped(alice_api, generate, upload, png_path, runway, runway_key):
    runway.outcome = "failed"
    image = upload(alice_api, png_path)

    _, generation = generate(alice_api, TURBO | {"image": image["id"], "fallback": ["luma", "local"]})

    assert generation["status"] == "completed", generation["error"]
    assert generation["provider"] == "local"
    assert outcomes(generation) == [
        ("runway", "failed", "provider_error"),
        ("luma", "skipped", "unsupported"),
        ("local", "completed", None),
    ]
    skipped = generation["providers_tried"][1]
    assert skipped["credential"] is None and "image" in skipped["message"]


# --- key validation -------------------------------------------------------------------------------------------


VALIDATED = [
    pytest.param(FakeRunway, "runway", {"secret": FakeRunway.token}, {"secret": "key_wrong"}, id="runway"),
    pytest.param(FakeKling, "kling", KLING_KEY, KLING_KEY | {"secret_key": "SK-wrong"}, id="kling"),
    pytest.param(FakeOpenAI, "openai", {"secret": FakeOpenAI.token}, {"secret": "sk-wrong"}, id="openai"),
    pytest.param(FakeLuma, "luma", {"secret": FakeLuma.token}, {"secret": "luma-wrong"}, id="luma"),
    pytest.param(FakeReplicate, "replicate", {"secret": FakeReplicate.token}, {"secret": "r8_wrong"}, id="replicate"),
]


def validate(client, credential: ProviderCredential):
    return client.post(f"/api/v1/provider-keys/{credential.id}/validate")


@pytest.mark.parametrize(("fake_class", "provider", "good", "wrong"), VALIDATED)
def test_validating_a_key_asks_the_provider(alice_api, serve, key_for, fake_class, provider, good, wrong):
    serve(fake_class, provider)
    working, refused_key = key_for(provider, **good), key_for(provider, **wrong)
    ProviderCredential.objects.filter(id=working.id).update(status="invalid")  # marked earlier, fixed since

    accepted, refused = validate(alice_api, working), validate(alice_api, refused_key)

    assert accepted.status_code == refused.status_code == 200
    assert accepted.json()["status"] == "active" and accepted.json()["last_validated_at"] is not None
    assert refused.json()["status"] == "invalid" and refused.json()["status_message"]


@pytest.mark.parametrize(("fake_class", "provider", "good", "wrong"), VALIDATED)
def test_a_provider_outage_leaves_the_key_as_it_was(alice_api, serve, key_for, fake_class, provider, good, wrong):
    fake = serve(fake_class, provider)
    credential = key_for(provider, **good)
    fake.fail_next = [DOWN]

    response = validate(alice_api, credential)

    assert response.status_code == 503
    error = response.json()["error"]
    assert set(response.json()) == {"error"} and set(error) == {"code", "message"}
    assert error["code"] == "provider_check_unavailable"
    assert "could not check the key" in error["message"]
    assert not any(secret in error["message"] for secret in good.values())
    credential.refresh_from_db()
    assert (credential.status, credential.last_validated_at) == ("active", None)


# --- webhooks -------------------------------------------------------------------------------------------------


def test_a_finished_generation_sends_a_signed_webhook(alice_api, generate, runway, runway_key, receiver):
    _, generation = generate(alice_api, GEN45 | {"webhook_url": receiver.url})

    assert generation["status"] == "completed", generation["error"]
    (delivered,) = receiver.requests
    event = json.loads(delivered.body)
    assert event["type"] == "job.succeeded"
    assert (event["data"]["id"], event["data"]["operation"]) == (generation["job"], "generate")
    assert {o["id"] for o in event["data"]["outputs"]} == {generation["video"]["id"], generation["poster"]["id"]}
    secret = alice_api.get("/api/v1/webhooks/secret").json()["secret"]
    assert verify(secret, delivered.headers["MediaHub-Signature"], delivered.body)
