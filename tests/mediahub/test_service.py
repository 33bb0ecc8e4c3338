"""Service endpoints (health, schema, docs, catalog, 404s), system checks, and the dashboard pages."""

import re
import threading
from datetime import timedelta

import pytest
import yaml
from django.core.checks import run_checks
from django.test import Client
from django.utils import timezone
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.conf import Conf
from django_q.status import Stat

from jobs.models import Asset, Job
from mediahub import probes
from tests.media import probe

MISSING_BINARY = "/nonexistent/mediahub-test/missing-tool"


def redis_cache(port: int) -> dict:
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{port}"}}


def check_ids() -> set[str]:
    return {message.id for message in run_checks()}


# --- health ---------------------------------------------------------------------------------------------------


def test_health_without_workers_is_degraded_with_503(anon_api, db):
    response = anon_api.get("/api/v1/health")

    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"status", "checks"}
    assert body["status"] == "degraded"
    checks = body["checks"]
    assert set(checks) == {"database", "broker", "ffmpeg", "storage", "workers"}
    for name in ("database", "broker", "ffmpeg", "storage"):
        assert checks[name]["status"] == "ok", (name, checks[name])
    # No qcluster runs during tests.
    assert checks["workers"]["status"] == "error"
    assert checks["workers"]["detail"] == "no worker is running (0 cluster(s))"


def test_health_ignores_credentials(db):
    client = Client(HTTP_AUTHORIZATION="Token not-a-key")

    response = client.get("/api/v1/health")

    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "ok"


def test_health_reports_a_missing_ffmpeg(anon_api, db, settings):
    settings.MEDIAHUB_FFMPEG = MISSING_BINARY

    response = anon_api.get("/api/v1/health")

    assert response.status_code == 503
    ffmpeg_check = response.json()["checks"]["ffmpeg"]
    assert ffmpeg_check["status"] == "error"
    assert MISSING_BINARY in ffmpeg_check["detail"]


def test_health_is_ok_with_200_when_workers_run(anon_api, db, running_clusters):
    running_clusters(2)

    response = anon_api.get("/api/v1/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["workers"] == {"status": "ok", "detail": "1 cluster(s), 2 worker(s)"}


def test_health_reports_a_hung_broker_within_its_timeout(anon_api, db, settings, silent_port, running_clusters):
    running_clusters(1)
    settings.REDIS_URL = f"redis://127.0.0.1:{silent_port}/0"
    settings.MEDIAHUB_HEALTH_TIMEOUT = 0.5

    response = anon_api.get("/api/v1/health")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["status"] == "error"
    assert "timeout" in checks["broker"]["detail"].lower() or "no answer" in checks["broker"]["detail"]
    assert checks["database"]["status"] == "ok"


# --- liveness, readiness, workers -----------------------------------------------------------------------------


def test_liveness_answers_without_touching_the_database_cache_or_storage(
    anon_api, db, settings, closed_port, broken_s3, django_assert_num_queries
):
    settings.CACHES = redis_cache(closed_port)
    broken_s3(closed_port)

    with django_assert_num_queries(0):
        response = anon_api.get("/api/v1/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_is_200_without_any_worker_while_workers_answers_503(anon_api, db):
    ready = anon_api.get("/api/v1/health/ready")
    workers = anon_api.get("/api/v1/health/workers")

    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
    checks = ready.json()["checks"]
    assert set(checks) == {"database", "cache", "storage"}
    assert all(check["status"] == "ok" for check in checks.values()), checks
    assert workers.status_code == 503
    body = workers.json()
    assert body["status"] == "down"
    assert body["workers"] == 0 and body["clusters"] == []
    assert body["detail"] == "no worker is running (0 cluster(s))"


def test_readiness_reports_a_storage_that_is_down(anon_api, db, closed_port, broken_s3):
    broken_s3(closed_port)

    response = anon_api.get("/api/v1/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["storage"]["status"] == "error"
    assert body["checks"]["storage"]["detail"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"


def test_readiness_reports_a_hung_cache_within_its_timeout(anon_api, db, settings, silent_port):
    settings.CACHES = redis_cache(silent_port)
    settings.MEDIAHUB_HEALTH_TIMEOUT = 0.5

    response = anon_api.get("/api/v1/health/ready")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["cache"] == {"status": "error", "detail": "no answer within 0.5 s"}
    assert checks["database"]["status"] == "ok"
    assert checks["storage"]["status"] == "ok"


def test_a_hung_cache_holds_one_thread_however_often_it_is_probed(anon_api, db, settings, silent_port):
    settings.CACHES = redis_cache(silent_port)
    settings.MEDIAHUB_HEALTH_TIMEOUT = 0.2

    for _ in range(4):
        assert anon_api.get("/api/v1/health/ready").status_code == 503

    waiting = [thread for thread in threading.enumerate() if thread.name == "mediahub-probe" and thread.is_alive()]
    assert len(waiting) == 1


def test_readiness_reports_a_cache_that_is_down(anon_api, db, settings, closed_port):
    settings.CACHES = redis_cache(closed_port)

    response = anon_api.get("/api/v1/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["status"] == "error"
    assert "refused" in response.json()["checks"]["cache"]["detail"].lower()


def test_workers_lists_clusters_hosts_pids_and_status(anon_api, db, running_clusters):
    running_clusters(2, 3)

    response = anon_api.get("/api/v1/health/workers")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["workers"] == 5
    assert body["detail"] == "2 cluster(s), 5 worker(s)"
    assert [(c["id"], c["host"], c["pid"], c["status"], len(c["workers"])) for c in body["clusters"]] == [
        ("cluster-0", "worker-host-0", 4000, "Idle", 2),
        ("cluster-1", "worker-host-1", 4001, "Idle", 3),
    ]
    assert body["clusters"][0]["uptime_seconds"] >= 0


def test_workers_of_a_stopped_cluster_do_not_count(anon_api, db, running_clusters):
    [stat] = running_clusters(2)
    stat.status = Conf.STOPPED

    response = anon_api.get("/api/v1/health/workers")

    assert response.status_code == 503
    assert response.json()["workers"] == 0
    assert response.json()["clusters"][0]["status"] == "Stopped"


@pytest.mark.django_db(transaction=True)
def test_workers_count_the_queue_and_the_oldest_queued_job_age(anon_api, alice, running_clusters):
    running_clusters(1)
    now = timezone.now()
    for minutes, status in [(10, "queued"), (3, "queued"), (20, "running"), (30, "succeeded")]:
        created_at = now - timedelta(minutes=minutes)
        Job.objects.create(owner=alice[0], operation="transcode", status=status, created_at=created_at)

    body = anon_api.get("/api/v1/health/workers").json()

    assert body["queued_jobs"] == 2
    assert body["running_jobs"] == 1
    assert 600 <= body["oldest_queued_seconds"] < 660


def test_workers_report_a_hung_broker_as_down(anon_api, db, settings, silent_port, monkeypatch):
    settings.MEDIAHUB_HEALTH_TIMEOUT = 0.5
    read_stats = Stat.get_all
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{silent_port}/0")
    monkeypatch.setattr(probes.Stat, "get_all", staticmethod(lambda broker=None: read_stats(RedisBroker())))

    response = anon_api.get("/api/v1/health/workers")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["detail"] == "the workers' state cannot be read: no answer within 0.5 s"
    assert body["queued_jobs"] == 0


def test_health_endpoints_are_in_the_schema_with_typed_answers(anon_api, db):
    document = anon_api.get("/api/schema/?format=json").json()

    for path in ("/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready", "/api/v1/health/workers"):
        assert path in document["paths"], path
    schemas = document["components"]["schemas"]
    assert set(schemas["Workers"]["properties"]) >= {"status", "workers", "clusters", "queued_jobs", "running_jobs"}
    assert set(schemas["ReadinessChecks"]["properties"]) == {"database", "cache", "storage"}
    ready = document["paths"]["/api/v1/health/ready"]["get"]["responses"]
    assert set(ready) == {"200", "503"}


# --- schema and docs ------------------------------------------------------------------------------------------


def test_schema_is_an_openapi_3_document_with_the_jobs_and_assets_paths(anon_api, db):
    response = anon_api.get("/api/schema/")

    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert str(document["openapi"]).startswith("3.")
    paths = document["paths"]
    for path in ("/api/v1/jobs", "/api/v1/assets", "/api/v1/operations", "/api/v1/health"):
        assert path in paths, sorted(paths)
    assert "post" in paths["/api/v1/jobs"] and "get" in paths["/api/v1/jobs"]
    assert "post" in paths["/api/v1/assets"]
    assert any(re.fullmatch(r"/api/v1/jobs/\{\w+\}/cancel", path) for path in paths)


def test_schema_is_also_served_as_json(anon_api, db):
    response = anon_api.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert "/api/v1/jobs" in response.json()["paths"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_pages_render_with_local_scripts_only(client, db, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all(re.search(r'src="/(static|api)/', tag) for tag in scripts), scripts  # no CDN, no inline
    assert "script-src 'self'" in response["Content-Security-Policy"]
    if path == "/api/docs/":
        assert "/api/schema/" in client.get(path, {"script": ""}).content.decode()  # the split-out initializer
    else:
        assert "/api/schema/" in html


# --- operations catalog, unknown URLs -------------------------------------------------------------------------


def test_operations_catalog_lists_transcode_with_its_params_schema(alice_api):
    response = alice_api.get("/api/v1/operations")

    assert response.status_code == 200
    operations = {op["name"]: op for op in response.json()["results"]}
    transcode = operations["transcode"]
    assert transcode["description"]
    properties = transcode["params_schema"]["properties"]
    assert {"format", "video_codec", "height"} <= set(properties)
    assert set(properties["format"]["enum"]) >= {"mp4", "webm"}


@pytest.mark.parametrize("client_fixture", ["anon_api", "alice_api"])
def test_unknown_api_url_gives_404_json_in_the_error_shape(request, client_fixture):
    client = request.getfixturevalue(client_fixture)

    response = client.get("/api/v1/nope")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "not_found"
    assert body["error"]["message"]


def test_unknown_page_url_gives_404_html(client, db):
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- system checks ----------------------------------------------------------------------------------------------


def test_no_mediahub_check_fails_in_the_test_configuration():
    assert not {check_id for check_id in check_ids() if check_id.startswith("mediahub.")}


def test_missing_ffprobe_is_reported_as_e002(settings):
    settings.MEDIAHUB_FFPROBE = MISSING_BINARY

    ids = check_ids()

    assert "mediahub.E002" in ids
    assert "mediahub.E001" not in ids


def test_missing_ffmpeg_is_reported_as_e001(settings):
    settings.MEDIAHUB_FFMPEG = MISSING_BINARY

    ids = check_ids()

    assert "mediahub.E001" in ids
    assert "mediahub.E002" not in ids


def test_debug_in_production_is_reported_as_e005(settings):
    settings.PRODUCTION = True
    settings.DEBUG = True

    assert "mediahub.E005" in check_ids()


def test_production_without_debug_has_no_e005(settings):
    settings.PRODUCTION = True
    settings.DEBUG = False

    assert "mediahub.E005" not in check_ids()


# --- dashboard pages --------------------------------------------------------------------------------------------


@pytest.fixture
def alice_browser(alice) -> Client:
    client = Client()
    client.force_login(alice[0])
    return client


def test_dashboard_shows_the_upload_form(alice_browser):
    response = alice_browser.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'action="/jobs/new"' in html
    assert 'enctype="multipart/form-data"' in html
    assert 'type="file" name="file"' in html
    assert 'name="format"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_login_page_renders_and_logs_in(client, alice):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="username"' in html and 'name="password"' in html

    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-password"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_with_a_wrong_password_stays_on_the_login_page(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert client.get("/").status_code == 302


def test_dashboard_upload_runs_a_transcode_and_redirects_to_the_job_page(
    alice, alice_browser, clip_path, django_capture_on_commit_callbacks, fetch_output, alice_api
):
    with open(clip_path, "rb") as fh, django_capture_on_commit_callbacks(execute=True):
        response = alice_browser.post("/jobs/new", {"file": fh, "format": "webm", "quality": "low", "resolution": ""})

    assert response.status_code == 302
    job = Job.objects.get(owner=alice[0])
    assert response["Location"] == f"/jobs/{job.id}/"
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.operation == "transcode"
    assert job.params["format"] == "webm"
    [source] = job.ordered_inputs()
    assert source.name == "clip.mp4" and source.kind == "video"

    page = alice_browser.get(response["Location"])
    assert page.status_code == 200
    assert "succeeded" in page.content.decode()

    output = alice_api.get(f"/api/v1/jobs/{job.id}").json()["outputs"][0]
    info = probe(fetch_output(output))
    assert info["format"]["format_name"].startswith("matroska,webm")
    assert {s["codec_name"] for s in info["streams"]} == {"vp9", "opus"}


def test_dashboard_upload_without_a_file_shows_the_form_again(alice_browser):
    response = alice_browser.post("/jobs/new", {"format": "webm", "quality": "low"})

    assert response.status_code == 400
    assert 'name="file"' in response.content.decode()
    assert not Job.objects.exists()


def test_dashboard_upload_requires_the_csrf_token(alice, clip_path):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice[0])

    with open(clip_path, "rb") as fh:
        response = browser.post("/jobs/new", {"file": fh, "format": "webm", "quality": "low"})

    assert response.status_code == 403
    assert not Asset.objects.exists()
    assert not Job.objects.exists()


def test_dashboard_upload_with_the_csrf_token_is_accepted(alice, clip_path):
    """The control for the 403 above: the same request with the form's token goes through."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice[0])
    html = browser.get("/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]

    with open(clip_path, "rb") as fh:
        response = browser.post(
            "/jobs/new", {"file": fh, "format": "webm", "quality": "low", "csrfmiddlewaretoken": token}
        )

    assert response.status_code == 302
    assert Job.objects.filter(owner=alice[0], status=Job.Status.QUEUED).count() == 1


def test_dashboard_upload_over_the_size_limit_is_refused(alice_browser, clip_path, settings):
    settings.MEDIAHUB_MAX_UPLOAD_BYTES = clip_path.stat().st_size // 2

    with open(clip_path, "rb") as fh:
        response = alice_browser.post("/jobs/new", {"file": fh, "format": "webm", "quality": "low"})

    assert response.status_code in (400, 413)
    assert not Asset.objects.exists()
    assert not Job.objects.exists()


def test_dashboard_upload_of_a_non_media_file_shows_an_error_and_keeps_no_file(
    alice_browser, random_bytes_path, settings
):
    with open(random_bytes_path, "rb") as fh:
        response = alice_browser.post("/jobs/new", {"file": fh, "format": "webm", "quality": "low"})

    assert response.status_code == 400
    assert "data" in response.content.decode()
    assert not Job.objects.exists()
    assert not Asset.objects.exists()
