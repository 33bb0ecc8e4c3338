"""POST /api/v1/clips end to end: a 49 s three-topic talk (flite over a moving face) → vertical, captioned clips."""

import shutil
import subprocess

import numpy as np
import pysubs2
import pytest
from django.test import Client

from compositions.highlights.faces import detect_faces
from tests.compositions.highlights.face_media import gray_frames
from tests.compositions.highlights.talk_media import make_talk
from tests.media import make_clip, probe, streams

CLIPS = {"count": 2, "min_duration": 8, "max_duration": 18, "aspect_ratio": "9:16", "captions": {"style": "bold"}}


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    return make_talk(tmp_path_factory.mktemp("talk"))


def submit(client, capture, body: dict) -> dict:
    with capture(execute=True):
        response = client.post("/api/v1/clips", body, format="json")
    assert response.status_code == 202, response.content
    return client.get(f"/api/v1/jobs/{response.json()['id']}").json()


def caption_text(path, at: float, workdir) -> str:
    """What tesseract reads in the caption band of the frame at `at`: the white and yellow letters made black on
    white, so the picture behind them does not count."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1"]
        + ["-vf", "crop=1080:480:0:1060", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True,
        check=True,
    )
    red, green, blue = np.frombuffer(done.stdout, np.uint8).reshape(480, 1080, 3).astype(int).transpose(2, 0, 1)
    letters = (red > 200) & (green > 170) & ((blue > 200) | (blue < 90))
    image = workdir / f"band-{at}.pgm"
    image.write_bytes(b"P5 1080 480 255\n" + np.where(letters, 0, 255).astype(np.uint8).tobytes())
    done = subprocess.run(["tesseract", str(image), "-", "--psm", "6"], capture_output=True, text=True, check=True)
    return done.stdout.lower()


def test_clips_are_vertical_captioned_and_cut_between_words(
    alice_api, upload, talk, fetch_output, tmp_path, django_capture_on_commit_callbacks
):
    asset = upload(alice_api, talk.path)
    job = submit(alice_api, django_capture_on_commit_callbacks, {"input": asset["id"], **CLIPS})
    assert job["status"] == "succeeded", job["error"]
    assert job["operation"] == "highlights"
    result = job["result"]
    assert result["engine"] == "pocketsphinx" and result["words"] > 100
    clips = result["clips"]
    assert len(clips) == 2
    assert [clip["score"] for clip in clips] == sorted((clip["score"] for clip in clips), reverse=True)
    spoken = [(start, end) for start, end, _, _ in talk.sentences]
    for clip in clips:
        assert 0 <= clip["score"] <= 100 and clip["reason"]
        assert 8 - 0.05 <= clip["end"] - clip["start"] <= 18 + 0.05
        # No clip edge falls inside a spoken sentence's sound (the talk pauses between sentences only).
        for edge in (clip["start"], clip["end"]):
            assert not any(start + 0.05 < edge < end - 0.05 for start, end in spoken), (edge, clip)
        video = fetch_output(clip["video"])
        info = probe(video)
        (picture,) = streams(info, "video")
        assert (picture["width"], picture["height"], picture["codec_name"]) == (1080, 1920, "h264")
        assert streams(info, "audio")[0]["codec_name"] == "aac"
        assert float(info["format"]["duration"]) == pytest.approx(clip["duration"], abs=0.1)
        assert clip["duration"] == pytest.approx(clip["end"] - clip["start"], abs=0.05)
        srt = pysubs2.SSAFile.from_string(fetch_output(clip["captions"]["srt"]).read_text())
        vtt = pysubs2.SSAFile.from_string(fetch_output(clip["captions"]["vtt"]).read_text())
        ass = fetch_output(clip["captions"]["ass"]).read_text()
        assert len(srt) == len(vtt) >= 2 and "PlayResY: 1920" in ass
        # The first caption appears when the clip's first sentence is spoken (the clip starts in the pause).
        spoken_at = next(start for start, end in spoken if end > clip["start"])
        assert clip["start"] + srt[0].start / 1000 == pytest.approx(spoken_at, abs=0.3)
        assert srt[-1].end / 1000 <= clip["duration"] + 0.05
        # The face stays in the middle of the vertical frame (the crop follows it).
        for frame in gray_frames(video, [1.0, clip["duration"] - 1.0]):
            faces = detect_faces(frame)
            assert faces, "no face in the clip"
            centre = max(faces, key=lambda face: face.w).x + max(faces, key=lambda face: face.w).w / 2
            assert abs(centre - 540) < 1080 * 0.2, centre
        if shutil.which("tesseract"):
            cue = srt[1]
            text = caption_text(video, (cue.start + cue.end) / 2000, tmp_path)
            words = [word.strip(".,?!").lower() for word in cue.text.split()]
            assert any(len(word) > 2 and word in text for word in words), (words, text)


def test_clips_page_shows_scores_reasons_downloads_and_opens_a_clip_as_a_composition(
    alice, bob, upload, alice_api, talk, fetch_output, django_capture_on_commit_callbacks
):
    """The dashboard form starts the job; the job page shows each clip as a vertical preview with its score, reason
    and files; "open as composition" starts a composition from the clip's spec (source, crop path, ASS captions)."""
    browser, stranger = Client(), Client()
    browser.force_login(alice[0])
    stranger.force_login(bob[0])
    asset = upload(alice_api, talk.path)
    form = {"asset": asset["id"], "count": 1, "min_duration": 8, "max_duration": 14, "aspect_ratio": "9:16",
            "style": "boxed", "max_words": 2, "title": "Coffee facts", "max_silence": 0.3}  # fmt: skip
    assert browser.post("/clips/", {**form, "max_duration": 5}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/clips/", form)
    assert response.status_code == 302, response.content
    job_id = response["Location"].strip("/").split("/")[-1]
    job = alice_api.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job["error"]
    assert job["params"]["captions"] == {"style": "boxed", "max_words": 2, "burn": True, "position": "lower"}
    (clip,) = job["result"]["clips"]
    # The 0.6 s pauses between its sentences are shortened to 0.3 s: one span of the source per sentence.
    spans = clip["composition"]["clips"]
    sentences = [s for s in talk.sentences if clip["start"] <= s[0] and s[1] <= clip["end"]]
    assert len(spans) == len(sentences) >= 2
    # (the recogniser's word ends fall a little before the sound's, so its pauses are a little longer than 0.6 s)
    assert clip["duration"] == pytest.approx(clip["end"] - clip["start"] - 0.3 * (len(sentences) - 1), abs=0.3)
    assert float(probe(fetch_output(clip["video"]))["format"]["duration"]) == pytest.approx(clip["duration"], abs=0.1)

    page = browser.get(f"/clips/{job_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/api/v1/assets/{clip['video']['id']}/content" in html and 'class="vertical"' in html
    assert clip["reason"] in html and f">{round(clip['score'])}<" in html
    for kind in ("srt", "vtt", "ass"):
        assert f"/api/v1/assets/{clip['captions'][kind]['id']}/content" in html
    assert f'href="/clips/{job_id}/" id="clips-link"' in browser.get(f"/jobs/{job_id}/").content.decode()
    assert stranger.get(f"/clips/{job_id}/").status_code == 404
    assert stranger.post(f"/clips/{job_id}/1/compose").status_code == 404
    missing = browser.post(f"/clips/{job_id}/2/compose", follow=True)
    assert missing.redirect_chain == [(f"/clips/{job_id}/", 302)] and "has no clip 2" in missing.content.decode()

    spec = clip["composition"]
    assert spec["captions"]["asset"] == clip["captions"]["ass"]["id"]
    assert {part["asset"] for part in spec["clips"]} == {asset["id"]}
    assert spec["overlays"][0]["text"] == "Coffee facts"
    response = browser.post(f"/clips/{job_id}/1/compose")
    assert response.status_code == 302 and "/compositions/cmp_" in response["Location"]
    composition = alice_api.get("/api/v1/compositions").json()["results"][0]
    assert composition["title"] == "Highlight 1"


def test_clip_requests_are_validated_with_the_bodys_own_field_names(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)
    cases = [
        ({"count": 2}, "input"),
        ({"input": asset["id"], "min_duration": 30, "max_duration": 20}, "max_duration"),
        ({"input": asset["id"], "captions": {"style": "neon"}}, "captions.style"),
        ({"input": asset["id"], "aspect_ratio": "2:1"}, "aspect_ratio"),
        ({"input": asset["id"], "colour": "red"}, "colour"),
        ({"input": "ast_missing"}, "input"),
    ]
    for body, field in cases:
        response = alice_api.post("/api/v1/clips", body, format="json")
        assert response.status_code == 400, (body, response.content)
        error = response.json()["error"]
        assert error["code"] == "validation_error" and field in error["fields"], (body, error)


def test_another_users_video_and_clips_stay_hidden(
    alice_api, bob_api, anon_api, upload, clip_path, django_capture_on_commit_callbacks
):
    asset = upload(alice_api, clip_path)
    response = bob_api.post("/api/v1/clips", {"input": asset["id"]}, format="json")
    assert response.status_code == 400 and "input" in response.json()["error"]["fields"]
    assert anon_api.post("/api/v1/clips", {"input": asset["id"]}, format="json").status_code == 401
    job = submit(alice_api, django_capture_on_commit_callbacks, {"input": asset["id"]})
    assert bob_api.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert [item["id"] for item in alice_api.get("/api/v1/clips").json()["results"]] == [job["id"]]
    assert bob_api.get("/api/v1/clips").json()["results"] == []


def test_a_video_without_speech_gets_a_clear_error(alice_api, upload, tmp_path, django_capture_on_commit_callbacks):
    silent = upload(alice_api, make_clip(tmp_path / "silent.mp4", seconds=3, audio=False))
    response = alice_api.post("/api/v1/clips", {"input": silent["id"]}, format="json")
    assert response.status_code == 400 and "no audio stream" in response.json()["error"]["fields"]["input"][0]
    response = alice_api.post("/api/v1/clips", {"input": silent["id"], "language": "fr"}, format="json")
    assert "pocketsphinx has only an English model" in response.json()["error"]["fields"]["language"][0]
    tone = upload(alice_api, make_clip(tmp_path / "tone.mp4", seconds=3))
    job = submit(alice_api, django_capture_on_commit_callbacks, {"input": tone["id"], "min_duration": 5})
    assert job["status"] == "failed" and job["error"]["code"] == "no_highlights", job["error"]


def test_a_reframe_must_fit_its_source_and_run_forward_in_time(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)  # 320×240
    clip = {"asset": asset["id"], "duration": 1}
    cases = [
        ({"width": 400, "height": 240, "points": [[0, 0, 0]]}, "clips.0.reframe"),
        ({"width": 134, "height": 240, "points": [[1, 0, 0], [0, 10, 0]]}, "clips.0.reframe.points"),
        ({"width": 134, "height": 240, "points": [[0, -5, 0]]}, "clips.0.reframe.points"),
        ({"width": 134, "height": 240, "points": []}, "clips.0.reframe.points"),
    ]
    for reframe, field in cases:
        body = {"clips": [{**clip, "reframe": reframe}], "output": {"resolution": "360p", "aspect_ratio": "9:16"}}
        response = alice_api.post("/api/v1/compositions", body, format="json")
        assert response.status_code == 400, (reframe, response.content)
        assert field in response.json()["error"]["fields"], (reframe, response.json())
