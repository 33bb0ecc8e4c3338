"""The openai engine against a local stand-in for POST /v1/audio/transcriptions: what is sent, punctuation
carried onto the timed words, a refused key, and no key at all."""

import pytest

from jobs.transcription import openai
from jobs.transcription.engines import transcribe_audio
from keys.models import ProviderCredential
from keys.services import provider_credential_create
from tests.providers.fakes.openai import FakeOpenAI


@pytest.fixture
def tone(alice_api, upload, tone_path) -> dict:
    return upload(alice_api, tone_path)


def transcribe(client, run_job, asset_id: str) -> dict:
    return run_job(client, {"operation": "transcribe", "input": asset_id, "params": {"engine": "openai"}})


def test_openai_engine_sends_the_documented_request_and_keeps_punctuation(alice, alice_api, run_job, openai_fake, tone):
    provider_credential_create(owner=alice[0], provider="openai", secret=FakeOpenAI.token)

    job = transcribe(alice_api, run_job, tone["id"])

    assert job["status"] == "succeeded", job["error"]
    [sent] = openai_fake.transcribed
    assert (sent["model"], sent["response_format"], sent["timestamp_granularities[]"]) == (
        "whisper-1",
        "verbose_json",
        "word",
    )
    assert sent["language"] == "en"
    assert sent["file"]["data"][:4] == b"RIFF" and sent["file"]["content_type"] == "audio/wav"
    [call] = openai_fake.calls("POST", "/v1/audio/transcriptions")
    assert call.header("Authorization") == f"Bearer {FakeOpenAI.token}"
    result = job["result"]
    assert result["engine"] == "openai"
    assert [(w["word"], w["start"], w["end"]) for w in result["words"]] == [("Hello,", 0.1, 0.5), ("world.", 0.6, 1.0)]
    assert result["words"][0]["confidence"] == pytest.approx(0.905, abs=0.001)  # exp(avg_logprob -0.1)
    assert result["sentences"] == [{"start": 0.1, "end": 1.0, "text": "Hello, world.", "first": 0, "last": 1}]
    assert {asset["name"].rsplit(".", 1)[1] for asset in job["outputs"]} == {"srt", "vtt"}


def test_a_refused_key_fails_the_job_clearly_and_marks_the_key_invalid(alice, alice_api, run_job, openai_fake, tone):
    secret = "sk-wrong-key-1234"
    credential = provider_credential_create(owner=alice[0], provider="openai", secret=secret)

    job = transcribe(alice_api, run_job, tone["id"])

    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid_credentials"
    assert "HTTP 401" in job["error"]["message"] and "…1234" in job["error"]["message"]
    assert secret not in str(job)
    credential.refresh_from_db()
    assert credential.status == ProviderCredential.Status.INVALID


def test_without_an_openai_key_the_job_fails_saying_what_to_add(alice_api, run_job, openai_fake, tone):
    job = transcribe(alice_api, run_job, tone["id"])

    assert (job["status"], job["error"]["code"]) == ("failed", "no_credentials")
    assert openai_fake.transcribed == []


def test_bobs_key_is_not_used_for_alices_job(alice_api, bob, run_job, openai_fake, tone):
    provider_credential_create(owner=bob[0], provider="openai", secret=FakeOpenAI.token)

    job = transcribe(alice_api, run_job, tone["id"])

    assert job["error"]["code"] == "no_credentials"


def test_audio_over_the_upload_limit_goes_in_pieces_cut_at_pauses(alice, openai_fake, speech, monkeypatch):
    """Each piece is sent on its own and its words are moved to where the piece starts in the file."""
    monkeypatch.setattr(openai, "MAX_UPLOAD_BYTES", 100_000)
    monkeypatch.setattr(openai, "PIECE_SECONDS", 8.0)
    provider_credential_create(owner=alice[0], provider="openai", secret=FakeOpenAI.token)
    reports: list[float] = []

    transcript = transcribe_audio(speech.wav, engine="openai", owner=alice[0], on_progress=reports.append)

    sent = openai_fake.transcribed
    assert len(sent) >= 3
    assert all(len(fields["file"]["data"]) < speech.wav.stat().st_size / 2 for fields in sent)
    starts = [w.start for w in transcript.words if w.word == "Hello,"]
    assert len(starts) == len(sent)
    # a piece begins where the VAD found speech: near a sentence's start, never inside the silence before it
    assert all(min(abs(start - 0.1 - spoken) for spoken in speech.starts) < 0.5 for start in starts)
    assert reports[-1] == 1.0 and reports == sorted(reports)


def test_an_answer_without_word_timings_fails_clearly(alice, alice_api, run_job, openai_fake, tone):
    provider_credential_create(owner=alice[0], provider="openai", secret=FakeOpenAI.token)
    openai_fake.transcription = {"text": "Hello, world."}  # what a server without word timestamps answers

    job = transcribe(alice_api, run_job, tone["id"])

    assert (job["status"], job["error"]["code"]) == ("failed", "provider_error")
    assert "word timings" in job["error"]["message"]
