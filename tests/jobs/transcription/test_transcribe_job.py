"""The transcribe operation through the API: result shape, SRT and WebVTT outputs timed to the speech, the
user's own subtitles as the words, validation at submit, and other users."""

import pysubs2
import pytest

from tests.jobs.transcription.conftest import SCRIPT, write_wav

MAX_START_ERROR = 0.3


@pytest.fixture
def speech_video(alice_api, upload, speech) -> dict:
    return upload(alice_api, speech.mp4)


@pytest.fixture
def transcribed(alice_api, run_job, speech_video) -> dict:
    job = run_job(alice_api, {"operation": "transcribe", "input": speech_video["id"], "params": {"language": "en"}})
    assert job["status"] == "succeeded", job["error"]
    return job


def submit(client, asset_id: str, params: dict):
    return client.post("/api/v1/jobs", {"operation": "transcribe", "input": asset_id, "params": params}, format="json")


def cue_starts(path) -> list[float]:
    return [event.start / 1000 for event in pysubs2.load(str(path), encoding="utf-8")]


def test_catalog_lists_transcribe_with_its_params(alice_api):
    [entry] = [op for op in alice_api.get("/api/v1/operations").json()["results"] if op["name"] == "transcribe"]
    assert entry["inputs"]["kinds"] == ["video", "audio"]
    assert entry["asset_params"] == {"subtitles": ["subtitle"]}
    assert {"language", "engine", "subtitles", "max_words_per_cue", "max_cue_seconds"} <= set(
        entry["params_schema"]["properties"]
    )
    assert "pocketsphinx" in entry["capabilities"]["engines"]


def test_transcribe_gives_timed_words_and_srt_vtt_cues_at_the_sentence_starts(transcribed, speech, fetch_output):
    result = transcribed["result"]

    assert transcribed["progress"] == 100
    assert (result["engine"], result["language"]) == ("pocketsphinx", "en")
    assert result["duration"] == pytest.approx(speech.duration, abs=0.1)
    assert len(result["words"]) >= 40
    assert set(result["words"][0]) == {"word", "start", "end", "confidence"}
    assert all(w["start"] < w["end"] for w in result["words"])
    assert len(result["sentences"]) == len(SCRIPT)
    assert set(result["sentences"][0]) == {"start", "end", "text", "first", "last"}
    assert result["text"] == " ".join(s["text"] for s in result["sentences"])
    assert "market today" in result["text"]

    outputs = {asset["name"].rsplit(".", 1)[1]: asset for asset in transcribed["outputs"]}
    assert set(outputs) == {"srt", "vtt"}
    assert {asset["kind"] for asset in outputs.values()} == {"subtitle"}
    for fmt, asset in outputs.items():
        starts = cue_starts(fetch_output(asset))
        for spoken in speech.starts:
            nearest = min(starts, key=lambda start: abs(start - spoken))
            assert abs(nearest - spoken) <= MAX_START_ERROR, (fmt, spoken, starts)


SUBTITLES = """1
00:00:00,700 --> 00:00:04,000
The quick brown fox jumps over the lazy dog.

2
00:00:04,800 --> 00:00:07,300
We want to go to the market today!

3
00:00:07,900 --> 00:00:12,400
Please call Zorblax and ask her to bring these things with her from the store.
"""


def test_the_users_subtitles_give_the_words_timed_against_the_speech(alice_api, run_job, upload, speech, tmp_path):
    path = tmp_path / "mine.srt"
    path.write_text(SUBTITLES, encoding="utf-8")
    subtitles = upload(alice_api, path)
    audio = upload(alice_api, speech.wav)

    job = run_job(
        alice_api, {"operation": "transcribe", "input": audio["id"], "params": {"subtitles": subtitles["id"]}}
    )

    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    assert result["engine"] == "subtitles"
    assert [s["text"] for s in result["sentences"]][:2] == [
        "The quick brown fox jumps over the lazy dog.",
        "We want to go to the market today!",
    ]
    words = result["words"]
    # Aligned: the words start and end when they are spoken, not when the cues say (0.7 s, 4.8 s, 7.3 s).
    assert words[0]["start"] == pytest.approx(speech.starts[0], abs=0.1)
    assert words[9]["word"] == "We"
    assert words[9]["start"] == pytest.approx(speech.starts[1], abs=0.1)
    assert words[16]["word"] == "today!" and words[16]["end"] < 7.0
    # "Zorblax" is in no dictionary: that cue's words share its span by their length.
    third = words[17:]
    assert third[0]["start"] == pytest.approx(7.9) and third[-1]["end"] == pytest.approx(12.4)
    assert third[2]["word"] == "Zorblax"


def test_subtitles_in_another_language_are_spread_over_their_cues_and_recut(
    alice_api, run_job, upload, speech, tmp_path, fetch_output
):
    path = tmp_path / "mine.vtt"
    path.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nDer schnelle braune Fuchs springt über den Hund.\n")
    subtitles = upload(alice_api, path)
    audio = upload(alice_api, speech.wav)
    params = {"subtitles": subtitles["id"], "language": "de", "max_words_per_cue": 3, "max_cue_seconds": 1.5}

    job = run_job(alice_api, {"operation": "transcribe", "input": audio["id"], "params": params})

    assert job["status"] == "succeeded", job["error"]
    words = job["result"]["words"]
    assert [w["word"] for w in words][-2:] == ["den", "Hund."]
    assert (words[0]["start"], words[-1]["end"]) == (1.0, 5.0)
    srt = next(asset for asset in job["outputs"] if asset["name"].endswith(".srt"))
    events = list(pysubs2.load(str(fetch_output(srt)), encoding="utf-8"))
    counts = [len(event.plaintext.split()) for event in events]
    assert sum(counts) == 8 and max(counts) <= 3 and len(events) >= 4  # 4 s of words in cues of 1.5 s at most
    assert all(event.end - event.start <= 1500 for event in events)


def test_audio_without_speech_gives_an_empty_transcript_and_no_files(alice_api, run_job, upload, tmp_path):
    path = write_wav(tmp_path / "quiet.wav", bytes(2 * 16000 * 3))
    audio = upload(alice_api, path)

    job = run_job(alice_api, {"operation": "transcribe", "input": audio["id"], "params": {}})

    assert job["status"] == "succeeded", job["error"]
    assert (job["result"]["words"], job["result"]["sentences"], job["result"]["text"]) == ([], [], "")
    assert job["outputs"] == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"language": "fr"}, "params.language"),
        ({"language": "fr", "engine": "pocketsphinx"}, "params.language"),
        ({"engine": "whisper"}, "params.engine"),
        ({"engine": "pocketsphinx", "subtitles": "ast_x"}, "params.engine"),
        ({"language": "English"}, "params.language"),
        ({"max_words_per_cue": 0}, "params.max_words_per_cue"),
    ],
)
def test_unusable_params_are_refused_at_submit(alice_api, upload, speech, params, field, settings):
    settings.MEDIAHUB_WHISPER_MODEL_DIR = ""
    audio = upload(alice_api, speech.wav)

    response = submit(alice_api, audio["id"], params)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]


def test_an_input_without_audio_is_refused(alice_api, upload, silent_clip_path):
    clip = upload(alice_api, silent_clip_path)
    response = submit(alice_api, clip["id"], {})
    assert response.status_code == 400
    assert "no audio" in response.json()["error"]["fields"]["inputs.0"][0]


def test_other_users_cannot_use_or_see_alices_assets_and_jobs(alice_api, bob_api, upload, speech, tmp_path):
    path = tmp_path / "alice.srt"
    path.write_text(SUBTITLES, encoding="utf-8")
    alice_subtitles = upload(alice_api, path)
    alice_audio = upload(alice_api, speech.wav)
    bob_audio = upload(bob_api, speech.wav)
    alice_job = submit(alice_api, alice_audio["id"], {}).json()  # queued: nothing runs it here

    as_input = submit(bob_api, alice_audio["id"], {})
    as_subtitles = submit(bob_api, bob_audio["id"], {"subtitles": alice_subtitles["id"]})

    assert as_input.status_code == 400 and as_input.json()["error"]["fields"]["inputs.0"] == [
        f"No asset {alice_audio['id']}."
    ]
    assert as_subtitles.status_code == 400 and "params.subtitles" in as_subtitles.json()["error"]["fields"]
    assert bob_api.get(f"/api/v1/jobs/{alice_job['id']}").status_code == 404
    assert bob_api.get(f"/api/v1/assets/{alice_subtitles['id']}/content").status_code == 404
