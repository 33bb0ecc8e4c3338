"""Request ids, the access log, job start and end lines, and the JSON and plain formats."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from jobs.models import Asset
from mediahub.logs import ContextFilter, JsonFormatter, PlainFormatter, job_run_logged


@pytest.fixture
def log_lines():
    """log_lines(formatter) → a function returning the lines formatted so far, as the console handler would."""
    handlers = []

    def _capture(formatter=None) -> callable:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter or JsonFormatter())
        handler.addFilter(ContextFilter())
        logging.getLogger().addHandler(handler)
        handlers.append(handler)
        return lambda: stream.getvalue().splitlines()

    yield _capture
    for handler in handlers:
        logging.getLogger().removeHandler(handler)


def _json(lines: list[str], **match) -> list[dict]:
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [record for record in records if all(record.get(key) == value for key, value in match.items())]


# --- request ids --------------------------------------------------------------------------------------------------


def test_a_sane_incoming_request_id_is_echoed(anon_api, db):
    response = anon_api.get("/api/v1/health/live", HTTP_X_REQUEST_ID="lb-7f3a:0042")

    assert response["X-Request-ID"] == "lb-7f3a:0042"


@pytest.mark.parametrize("incoming", [None, "", "has spaces", "x" * 129, "new\nline", "<script>"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(anon_api, db, incoming):
    headers = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}

    first = anon_api.get("/api/v1/health/live", **headers)["X-Request-ID"]
    second = anon_api.get("/api/v1/health/live", **headers)["X-Request-ID"]

    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_error_responses_carry_the_request_id_too(anon_api, db):
    response = anon_api.get("/api/v1/nope", HTTP_X_REQUEST_ID="req-404")

    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-404"


# --- the access log -----------------------------------------------------------------------------------------------


def test_one_access_line_per_request_with_route_status_duration_request_id_and_user(alice_api, alice, log_lines):
    lines = log_lines()

    response = alice_api.get("/api/v1/jobs", HTTP_X_REQUEST_ID="req-access-1")

    assert response.status_code == 200
    [line] = _json(lines(), logger="mediahub.access")
    assert line["message"] == "GET api/v1/jobs 200"
    assert line["method"] == "GET"
    assert line["route"] == "api/v1/jobs"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == "req-access-1"
    assert line["user"] == str(alice[0].pk)
    assert line["level"] == "INFO" and line["time"]


def test_an_anonymous_request_logs_no_user_and_a_pattern_not_a_path(anon_api, alice, log_lines):
    lines = log_lines()

    assert anon_api.get("/api/v1/jobs/job_secret123").status_code == 401

    [line] = _json(lines(), logger="mediahub.access")
    assert line["route"] == "api/v1/jobs/<str:job_id>"
    assert "job_secret123" not in json.dumps(line)
    assert "user" not in line


def test_djangos_own_lines_about_a_request_carry_its_id_and_user(alice_api, alice, log_lines):
    lines = log_lines()

    response = alice_api.post("/api/v1/jobs", {"operation": "nope"}, format="json", HTTP_X_REQUEST_ID="req-warn")

    assert response.status_code == 400
    [warning] = _json(lines(), logger="django.request")  # "Bad Request", logged once every middleware is done
    assert warning["request_id"] == "req-warn"
    assert warning["user"] == str(alice[0].pk)
    assert "request" not in warning


# --- job lines ----------------------------------------------------------------------------------------------------


def test_a_job_logs_its_start_and_its_end_with_outcome_and_duration(
    alice_api, alice, upload, run_job, clip_path, log_lines
):
    asset = upload(alice_api, clip_path)
    lines = log_lines()

    job = run_job(alice_api, {"operation": "thumbnail", "input": asset["id"], "params": {"count": 1, "width": 64}})

    assert job["status"] == "succeeded", job["error"]
    started, ended = _json(lines(), logger="mediahub.jobs", job_id=job["id"])
    for line in (started, ended):
        assert line["operation"] == "thumbnail"
        assert line["owner"] == alice[0].pk
        assert line["user"] == str(alice[0].pk)
        assert line["attempt"] == 1
    assert started["message"] == "job started" and "outcome" not in started
    assert ended["message"] == "job succeeded"
    assert ended["outcome"] == "succeeded"
    assert ended["level"] == "INFO"
    assert 0 < ended["duration_seconds"] < 600


def test_a_failed_job_logs_its_failure_with_the_error_code(alice_api, alice, upload, run_job, clip_path, log_lines):
    asset = upload(alice_api, clip_path)
    stored = Asset.objects.get(id=asset["id"]).file
    stored.storage.delete(stored.name)  # the job fails with input_missing
    lines = log_lines()

    job = run_job(alice_api, {"operation": "thumbnail", "input": asset["id"], "params": {"count": 1, "width": 64}})

    assert job["status"] == "failed"
    assert job["error"]["code"] == "input_missing"
    [ended] = _json(lines(), logger="mediahub.jobs", job_id=job["id"], outcome="failed")
    assert ended["message"] == "job failed"
    assert ended["level"] == "WARNING"
    assert ended["error_code"] == job["error"]["code"]
    assert ended["operation"] == "thumbnail"
    assert isinstance(ended["duration_seconds"], float)


def test_lines_logged_inside_a_job_carry_its_id_and_operation(alice_api, upload, run_job, clip_path, log_lines, caplog):
    asset = upload(alice_api, clip_path)
    lines = log_lines()
    caplog.set_level(logging.DEBUG, logger="jobs.ffmpeg.runner")  # the FFmpeg command line

    job = run_job(alice_api, {"operation": "thumbnail", "input": asset["id"], "params": {"count": 1, "width": 64}})

    inside = [line for line in _json(lines(), job_id=job["id"]) if line["logger"] != "mediahub.jobs"]
    assert inside, "the run logged nothing but its start and end"
    assert any(line["logger"] == "jobs.ffmpeg.runner" for line in inside)
    assert all(line["operation"] == "thumbnail" for line in inside)


# --- formats ------------------------------------------------------------------------------------------------------


def test_plain_lines_carry_the_same_fields_as_key_value(alice_api, alice, log_lines):
    lines = log_lines(PlainFormatter())

    alice_api.get("/api/v1/jobs", HTTP_X_REQUEST_ID="req-plain")

    [line] = [line for line in lines() if " mediahub.access: " in line]
    assert re.search(r" INFO mediahub\.access: GET api/v1/jobs 200 .*route=api/v1/jobs", line)
    assert "request_id=req-plain" in line
    assert f"user={alice[0].pk}" in line
    assert re.search(r"duration_ms=[0-9.]+", line)


def _log_from_a_fresh_process(env: dict) -> subprocess.CompletedProcess:
    script = (
        "import django; django.setup(); import logging; logging.getLogger('mediahub.test').warning('hello %s', 'there')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mediahub.settings", "SECRET_KEY": "k" * 50, **env}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)


def test_production_logs_json_by_default(tmp_path):
    done = _log_from_a_fresh_process(
        {"MEDIAHUB_ENV": "production", "MEDIAHUB_DATA_DIR": str(tmp_path), "MEDIAHUB_LOG_FORMAT": ""}
    )

    assert done.returncode == 0, done.stderr
    [line] = [json.loads(line) for line in done.stderr.splitlines() if '"mediahub.test"' in line]
    assert line["message"] == "hello there"
    assert line["level"] == "WARNING"


def test_an_unknown_log_format_is_refused_with_the_variables_name(tmp_path):
    done = _log_from_a_fresh_process({"MEDIAHUB_LOG_FORMAT": "xml", "MEDIAHUB_DATA_DIR": str(tmp_path)})

    assert done.returncode != 0
    assert "MEDIAHUB_LOG_FORMAT must be json or plain" in done.stderr


@pytest.mark.parametrize(
    ("status_after", "message", "level"),
    [("queued", "job requeued", "INFO"), ("running", "job taken over", "INFO"), ("cancelled", "job cancelled", "INFO")],
)
def test_a_run_that_did_not_finish_the_job_says_where_the_job_went(log_lines, status_after, message, level):
    lines = log_lines()
    job = SimpleNamespace(id="job_x1", operation="transcode", owner_id=7, attempts=2, status="running", error=None)

    with job_run_logged(job):
        job.status = status_after

    [ended] = _json(lines(), logger="mediahub.jobs", message=message)
    assert ended["level"] == level
    assert ended["outcome"] == message.removeprefix("job ").replace(" ", "_")
    assert (ended["job_id"], ended["attempt"], ended["owner"]) == ("job_x1", 2, 7)


def test_a_run_interrupted_by_the_worker_is_logged_and_still_raised(log_lines):
    lines = log_lines()
    job = SimpleNamespace(id="job_x2", operation="transcode", owner_id=7, attempts=1, status="running", error=None)

    with pytest.raises(KeyboardInterrupt), job_run_logged(job):
        raise KeyboardInterrupt

    [ended] = _json(lines(), logger="mediahub.jobs", outcome="interrupted")
    assert ended["level"] == "ERROR" and ended["job_id"] == "job_x2"
