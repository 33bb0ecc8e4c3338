"""The job page of a transcribe job: the transcript's sentences as links that seek the input's player (our own
script does it: no inline script or handler), and only for the job's owner."""

import re

import pytest
from django.test import Client

from jobs.models import Job, JobInput
from jobs.transcription.transcript import Transcript, Word


@pytest.fixture
def transcribe_job(alice, alice_api, upload, tone_path) -> Job:
    audio = upload(alice_api, tone_path)
    words = [Word("Hello", 0.1, 0.5), Word("<there>", 0.6, 1.0), Word("again", 1.8, 2.0)]
    result = Transcript(words, engine="pocketsphinx", duration=2.0).to_result()
    job = Job.objects.create(owner=alice[0], operation="transcribe", status="succeeded", progress=100, result=result)
    JobInput.objects.create(job=job, asset_id=audio["id"], position=0)
    return job


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_transcript_sentences_seek_the_inputs_player(alice, transcribe_job):
    html = browser(alice[0]).get(f"/jobs/{transcribe_job.id}/").content.decode()

    section = html[html.index('id="transcript"') :]
    source = transcribe_job.ordered_inputs()[0]
    player = f'<audio controls preload="metadata" src="/api/v1/assets/{source.id}/content" data-transcript-player>'
    assert player in section
    starts = re.findall(r'data-start="([\d.]+)" data-end="([\d.]+)"[^>]*>([^<]*)</a>', section)
    assert starts == [("0.100", "1.000", "Hello &lt;there&gt;"), ("1.800", "2.000", "again")]
    assert "/static/js/job.js" in html


def test_the_page_has_no_inline_script_or_handler(alice, transcribe_job):
    html = browser(alice[0]).get(f"/jobs/{transcribe_job.id}/").content.decode()

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+\s*=", html)


def test_other_jobs_show_no_transcript(alice, alice_api, upload, tone_path):
    job = Job.objects.create(owner=alice[0], operation="analyze", status="succeeded", result={"sentences": []})
    assert 'id="transcript"' not in browser(alice[0]).get(f"/jobs/{job.id}/").content.decode()


def test_another_user_gets_404_for_the_transcript_page(bob, transcribe_job):
    assert browser(bob[0]).get(f"/jobs/{transcribe_job.id}/").status_code == 404
