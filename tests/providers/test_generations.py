"""Generations through the router, end to end over the API: the offline local provider, and an OpenAI-style
provider played by a local HTTP server. Jobs run inline (django-q2 sync mode) when their transaction commits."""

import logging
from decimal import Decimal

import pytest
from django.utils import timezone

from keys.models import ProviderCredential
from keys.services import provider_credential_create
from providers.models import Budget, Generation
from tests.media import probe, streams
from tests.providers.fakes.base import Reply
from tests.providers.fakes.openai import openai_error

LOCAL = {"provider": "local", "prompt": "A lighthouse at dusk", "duration": 2, "resolution": "360p"}
SORA = {"provider": "openai", "model": "sora-2", "prompt": "A paper boat on a river", "duration": 4}


def quota_reply() -> Reply:
    return openai_error(429, "You exceeded your current quota, please check your plan and billing details.",
                        "insufficient_quota", "insufficient_quota")  # fmt: skip


def rate_reply(seconds: str = "0") -> Reply:
    reply = openai_error(429, "Rate limit reached for requests.", "rate_limit_exceeded", "requests")
    reply.headers["Retry-After"] = seconds
    return reply


# --- the local provider -----------------------------------------------------------------------------------


def test_local_generation_stores_a_real_video_and_poster_at_no_cost(alice_api, generate, fetch_output):
    code, generation = generate(alice_api, LOCAL | {"aspect_ratio": "9:16"})

    assert code == 202
    assert generation["status"] == "completed", generation["error"]
    assert generation["progress"] == 100
    assert (generation["provider"], generation["model"]) == ("local", "title-card")
    assert (generation["width"], generation["height"]) == (360, 640)
    assert generation["duration_seconds"] == pytest.approx(2, abs=0.1)
    assert generation["cost"] == 0 and generation["generation_time"] > 0
    assert [(t["provider"], t["outcome"]) for t in generation["providers_tried"]] == [("local", "completed")]
    video = fetch_output(generation["video"])
    info = probe(video)
    assert float(info["format"]["duration"]) == pytest.approx(2, abs=0.1)
    assert (streams(info, "video")[0]["codec_name"], streams(info, "audio")[0]["codec_name"]) == ("h264", "aac")
    assert generation["video"]["source"] == "generation"
    assert generation["poster"]["kind"] == "image"


def test_generate_is_not_an_operation_of_the_jobs_api(alice_api):
    response = alice_api.post("/api/v1/jobs", {"operation": "generate", "inputs": [], "params": LOCAL}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["operation"] == ["Use /api/v1/generations."]
    names = [op["name"] for op in alice_api.get("/api/v1/operations").json()["results"]]
    assert "generate" not in names and "transcode" in names


# --- validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provider": "sora"}, "provider"),
        ({"model": "gen-9"}, "model"),
        ({"duration": 7}, "duration"),
        ({"aspect_ratio": "21:9"}, "aspect_ratio"),
        ({"resolution": "4k"}, "resolution"),
        ({"prompt": ""}, "prompt"),
        ({"fallback": ["local"]}, "fallback.0"),
        ({"fallback": ["openai", "openai"]}, "fallback.1"),
        ({"image": "ast_missing"}, "image"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_checks_the_request_against_the_model(alice_api, change, field):
    response = alice_api.post("/api/v1/generations", LOCAL | change, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error["fields"]
    assert not Generation.objects.exists()


def test_duration_error_names_what_the_model_makes(alice_api):
    response = alice_api.post("/api/v1/generations", SORA | {"duration": 5}, format="json")

    assert response.json()["error"]["fields"]["duration"] == ["sora-2 makes videos of 4, 8, 12 seconds."]


def test_paid_provider_without_a_working_key_is_refused(alice_api, alice):
    response = alice_api.post("/api/v1/generations", SORA, format="json")

    assert response.status_code == 400
    assert "no working openai key" in response.json()["error"]["fields"]["provider"][0]
    credential = provider_credential_create(owner=alice[0], provider="openai", secret="sk-x")
    ProviderCredential.objects.filter(id=credential.id).update(status="invalid")
    assert alice_api.post("/api/v1/generations", SORA, format="json").status_code == 400


def test_same_idempotency_key_returns_the_first_generation(alice_api, generate):
    code, first = generate(alice_api, LOCAL, HTTP_IDEMPOTENCY_KEY="gen-1")
    code_again, again = generate(alice_api, LOCAL, HTTP_IDEMPOTENCY_KEY="gen-1")

    assert (code, code_again) == (202, 200)
    assert again["id"] == first["id"]
    assert Generation.objects.count() == 1
    reused = alice_api.post("/api/v1/generations", LOCAL | {"prompt": "else"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="gen-1")  # fmt: skip
    assert reused.status_code == 409


# --- a paid provider over HTTP ------------------------------------------------------------------------------


def test_openai_generation_is_polled_downloaded_and_costed(alice_api, generate, openai_fake, openai_key):
    openai_fake.polls_to_finish = 2

    code, generation = generate(alice_api, SORA | {"aspect_ratio": "9:16"})

    assert generation["status"] == "completed", generation["error"]
    assert len(openai_fake.calls("POST", "/v1/videos")) == 1
    assert openai_fake.created[0]["size"] == "720x1280" and openai_fake.created[0]["seconds"] == "4"
    assert len(openai_fake.calls("GET", "/v1/videos/")) >= 4  # three polls and the content
    assert generation["cost"] == pytest.approx(0.40)  # 4 s at 0.10 USD
    assert generation["estimated_cost"] == pytest.approx(0.40)
    assert (generation["width"], generation["height"]) == (320, 240)  # what the provider really sent
    # the provider's own URL is never handed out: the video is ours
    assert generation["video"]["content_url"].startswith("http://testserver/api/v1/assets/")
    openai_key.refresh_from_db()
    assert openai_key.last_used_at is not None and openai_key.status == "active"


def test_price_table_is_overridable_in_settings(alice_api, generate, openai_fake, openai_key, settings):
    settings.MEDIAHUB_PROVIDERS = {"openai": {"base_url": openai_fake.url, "prices": {"sora-2": 0.25}}}

    _, generation = generate(alice_api, SORA | {"duration": 8})

    assert generation["cost"] == pytest.approx(2.0)
    listed = {p["name"]: p for p in alice_api.get("/api/v1/providers").json()}
    assert listed["openai"]["models"][0]["price_per_second"] == 0.25


def test_content_policy_failure_is_final_even_with_a_fallback(alice_api, generate, openai_fake, openai_key):
    openai_fake.outcome = "content_policy"

    _, generation = generate(alice_api, SORA | {"fallback": ["local"]})

    assert generation["status"] == "failed"
    assert generation["error"]["code"] == "content_policy"
    assert [t["provider"] for t in generation["providers_tried"]] == ["openai"]
    assert generation["video"] is None and generation["cost"] == 0


def test_exhausted_quota_marks_the_key_and_falls_back(alice_api, generate, openai_fake, openai_key):
    openai_fake.fail_next = [quota_reply()]

    _, generation = generate(alice_api, SORA | {"fallback": ["local"]})

    assert generation["status"] == "completed", generation["error"]
    assert generation["provider"] == "local"
    tried = [(t["provider"], t["outcome"], t.get("code")) for t in generation["providers_tried"]]
    assert tried == [
        ("openai", "next_credential", "quota_exceeded"),
        ("openai", "failed", "no_credentials"),
        ("local", "completed", None),
    ]
    openai_key.refresh_from_db()
    assert openai_key.status == "quota_exceeded"
    # the fallback's duration is the nearest the local model makes
    assert generation["duration_seconds"] == pytest.approx(4, abs=0.1)


def test_an_invalid_key_is_marked_and_the_next_key_takes_over(alice, alice_api, generate, openai_fake):
    owner = alice[0]
    wrong = provider_credential_create(owner=owner, provider="openai", secret="sk-revoked-long-ago")
    right = provider_credential_create(owner=owner, provider="openai", secret=openai_fake.token)

    _, generation = generate(alice_api, SORA)

    assert generation["status"] == "completed", generation["error"]
    wrong.refresh_from_db(), right.refresh_from_db()
    assert (wrong.status, right.status) == ("invalid", "active")
    assert generation["providers_tried"][0]["code"] == "invalid_credentials"
    assert generation["providers_tried"][0]["credential"] == wrong.masked


def test_keys_take_turns(alice, alice_api, generate, openai_fake):
    owner = alice[0]
    keys = [provider_credential_create(owner=owner, provider="openai", secret=openai_fake.token) for _ in range(2)]

    used = []
    for _ in range(3):
        generate(alice_api, SORA)
        used.append(Generation.objects.latest("created_at").credential_id)

    assert used == [keys[0].id, keys[1].id, keys[0].id]


def test_rate_limits_are_retried_after_the_providers_hint(alice_api, generate, openai_fake, openai_key, settings):
    settings.MEDIAHUB_GENERATION_RETRIES = 3
    openai_fake.fail_next = [rate_reply("1"), rate_reply("0")]

    started = timezone.now()
    _, generation = generate(alice_api, SORA)

    assert generation["status"] == "completed", generation["error"]
    assert (timezone.now() - started).total_seconds() >= 1.0  # Retry-After: 1 was honoured
    assert len(openai_fake.calls("POST", "/v1/videos")) == 3
    assert [t["outcome"] for t in generation["providers_tried"]] == ["completed"]


def test_rate_limits_past_the_retries_move_to_the_fallback(alice_api, generate, openai_fake, openai_key, settings):
    settings.MEDIAHUB_GENERATION_RETRIES = 1
    openai_fake.fail_next = [rate_reply(), rate_reply()]

    _, generation = generate(alice_api, SORA | {"fallback": ["local"]})

    assert generation["provider"] == "local" and generation["status"] == "completed"
    assert generation["providers_tried"][0]["code"] == "rate_limited"
    openai_key.refresh_from_db()
    assert openai_key.status == "active"  # a rate limit says nothing against the key


def test_server_errors_are_retried(alice_api, generate, openai_fake, openai_key):
    openai_fake.polls_to_finish = 1
    openai_fake.fail_next = [openai_error(503, "The server is overloaded.", None, "server_error")]

    _, generation = generate(alice_api, SORA)

    assert generation["status"] == "completed", generation["error"]
    assert len(openai_fake.calls("POST", "/v1/videos")) == 2


def test_failed_provider_task_moves_to_the_fallback(alice_api, generate, openai_fake, openai_key):
    openai_fake.outcome = "failed"

    _, generation = generate(alice_api, SORA | {"fallback": ["local"]})

    assert generation["provider"] == "local" and generation["status"] == "completed"
    assert generation["providers_tried"][0]["code"] == "provider_error"


def test_a_slow_provider_times_out_its_task_is_cancelled_and_the_fallback_runs(
    alice_api, generate, openai_fake, openai_key, settings
):
    settings.MEDIAHUB_GENERATION_TIMEOUT = 1
    openai_fake.polls_to_finish = 10**6

    _, generation = generate(alice_api, SORA | {"fallback": ["local"]})

    assert generation["status"] == "completed" and generation["provider"] == "local"
    assert generation["providers_tried"][0]["code"] == "timeout"
    assert len(openai_fake.calls("DELETE", "/v1/videos/")) == 1  # the provider stops charging for it


def test_every_provider_failing_fails_with_the_last_reason(alice_api, generate, openai_fake, openai_key):
    openai_fake.outcome = "failed"

    _, generation = generate(alice_api, SORA)

    assert generation["status"] == "failed"
    assert generation["error"]["code"] == "provider_error"
    assert generation["error"]["message"].startswith("openai: ")


# --- money ----------------------------------------------------------------------------------------------------


def test_monthly_budget_refuses_a_generation_that_would_pass_it(alice, alice_api, generate, openai_fake, openai_key):
    Budget.objects.create(owner=alice[0], monthly_usd=Decimal("1.00"))

    _, first = generate(alice_api, SORA | {"duration": 8})  # 0.80 USD
    response = alice_api.post("/api/v1/generations", SORA, format="json")  # 0.40 more

    assert first["status"] == "completed"
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "budget_exceeded"
    assert "1.00 USD" in response.json()["error"]["message"]
    assert generate(alice_api, LOCAL)[1]["status"] == "completed"  # free generations still run
    budget = alice_api.get("/api/v1/usage").json()["budget"]
    assert budget == {"monthly_usd": 1.0, "spent_this_month": 0.8, "remaining": pytest.approx(0.2)}


def test_usage_counts_and_costs_by_provider_model_and_day(alice_api, bob_api, generate, openai_fake, openai_key):
    generate(alice_api, SORA)
    generate(alice_api, SORA | {"duration": 8})
    openai_fake.outcome = "failed"
    generate(alice_api, SORA)
    generate(alice_api, LOCAL)
    generate(bob_api, LOCAL)  # not alice's

    by_provider = alice_api.get("/api/v1/usage?group_by=provider").json()
    rows = {row["provider"]: row for row in by_provider["rows"]}
    assert rows["openai"] | {"average_generation_time": None} == {
        "provider": "openai", "count": 3, "succeeded": 2, "failed": 1, "total_cost": pytest.approx(1.2),
        "average_generation_time": None,
    }  # fmt: skip
    assert rows["openai"]["average_generation_time"] > 0
    assert rows["local"]["count"] == 1 and rows["local"]["total_cost"] == 0
    assert by_provider["totals"]["count"] == 4 and by_provider["totals"]["total_cost"] == pytest.approx(1.2)

    by_model = alice_api.get("/api/v1/usage?group_by=model").json()["rows"]
    assert {(row["provider"], row["model"]) for row in by_model} == {("openai", "sora-2"), ("local", "title-card")}
    today = timezone.now().date().isoformat()
    by_day = alice_api.get(f"/api/v1/usage?group_by=day&from={today}&to={today}").json()["rows"]
    assert [(row["day"], row["count"]) for row in by_day] == [(today, 4)]
    assert alice_api.get("/api/v1/usage?from=2001-01-01&to=2001-01-31").json()["rows"] == []


@pytest.mark.parametrize("query", ["group_by=week", "from=yesterday", "from=2026-02-01&to=2026-01-01"])
def test_usage_rejects_bad_parameters(alice_api, query):
    response = alice_api.get(f"/api/v1/usage?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_providers_list_models_prices_and_the_users_keys(alice, alice_api):
    listed = {p["name"]: p for p in alice_api.get("/api/v1/providers").json()}

    assert set(listed) == {"runway", "kling", "openai", "luma", "replicate", "local"}
    assert listed["local"]["credential"] == {"configured": False, "working": True}
    assert listed["openai"]["credential"] == {"configured": False, "working": False}
    sora = next(m for m in listed["openai"]["models"] if m["id"] == "sora-2")
    assert sora["durations"] == [4, 8, 12] and sora["price_per_second"] == 0.1
    credential = provider_credential_create(owner=alice[0], provider="openai", secret="sk-x")
    listed = {p["name"]: p for p in alice_api.get("/api/v1/providers").json()}
    assert listed["openai"]["credential"] == {"configured": True, "working": True}
    ProviderCredential.objects.filter(id=credential.id).update(status="quota_exceeded")
    listed = {p["name"]: p for p in alice_api.get("/api/v1/providers").json()}
    assert listed["openai"]["credential"] == {"configured": True, "working": False}


# --- owners and secrets ---------------------------------------------------------------------------------------


def test_other_users_generations_are_invisible(alice_api, bob_api, anon_api, generate):
    _, generation = generate(alice_api, LOCAL)
    url = f"/api/v1/generations/{generation['id']}"

    assert bob_api.get(url).status_code == 404
    assert bob_api.post(f"{url}/cancel").status_code == 404
    assert bob_api.delete(url).status_code == 404
    assert bob_api.get("/api/v1/generations").json()["results"] == []
    assert bob_api.get("/api/v1/usage").json()["totals"]["count"] == 0
    assert anon_api.get(url).status_code == 401
    assert anon_api.get("/api/v1/providers").status_code == 401
    assert alice_api.get(url).status_code == 200


def test_generating_needs_the_generate_scope(alice, generate):
    from keys.services import apikey_create
    from tests.conftest import _client

    _, raw = apikey_create(owner=alice[0], name="reader", scopes=["read", "write"])
    client = _client(raw)

    response = client.post("/api/v1/generations", LOCAL, format="json")

    assert response.status_code == 403
    assert client.get("/api/v1/generations").status_code == 200


def test_delete_removes_a_finished_generation_and_its_files(alice_api, generate):
    _, generation = generate(alice_api, LOCAL)

    assert alice_api.delete(f"/api/v1/generations/{generation['id']}").status_code == 204

    assert alice_api.get(f"/api/v1/generations/{generation['id']}").status_code == 404
    assert alice_api.get(f"/api/v1/assets/{generation['video']['id']}").status_code == 404


def test_no_provider_secret_reaches_a_response_or_a_log(alice, alice_api, generate, openai_fake, caplog):
    secret = openai_fake.token
    wrong = "sk-wrong-" + "z" * 40
    provider_credential_create(owner=alice[0], provider="openai", secret=wrong)
    provider_credential_create(owner=alice[0], provider="openai", secret=secret)
    caplog.set_level(logging.DEBUG)

    _, generation = generate(alice_api, SORA)
    job = alice_api.get(f"/api/v1/jobs/{generation['job']}")
    keys = alice_api.get("/api/v1/provider-keys")
    listed = alice_api.get("/api/v1/generations")

    assert generation["status"] == "completed"
    for text in (str(generation), job.content.decode(), keys.content.decode(), listed.content.decode(), caplog.text):
        assert secret not in text and wrong not in text
    for stored in Generation.objects.values_list("tried", flat=True):
        assert secret not in str(stored) and wrong not in str(stored)
