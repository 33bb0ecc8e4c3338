"""The browser-facing defences: CSRF on every page form, security headers on pages and API responses, HTTPS-only
cookies and HSTS in production, no debug page, and templates without inline script (so the CSP holds).

Pages are found by walking the URLconf (everything outside the API, the admin and the docs), so a new page is
covered without editing this file."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from jobs.models import Asset, Job

_PARAM = re.compile(r"<(?:(?P<converter>[^:>]+):)?(?P<name>[^>]+)>")
NOT_PAGES = ("api/", "internal/", "admin/", "metrics", "static/", "media/")  # APIs, Django's admin, files


def _walk(entries, prefix=""):
    for entry in entries:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


PAGE_ROUTES = sorted({route for route in _walk(get_resolver().url_patterns) if not route.startswith(NOT_PAGES)})


def fill(route: str, values: dict[str, str]) -> str:
    """A concrete URL for a route: known parameters get a real object's id, others a placeholder."""
    return "/" + _PARAM.sub(lambda match: values.get(match["name"], "x"), route)


def parse_csp(header: str) -> dict[str, list[str]]:
    policy = {}
    for directive in filter(None, (part.strip() for part in header.split(";"))):
        name, *sources = directive.split()
        policy[name.lower()] = sources
    return policy


def assert_security_headers(response) -> None:
    path = response.wsgi_request.path
    assert response["X-Content-Type-Options"] == "nosniff", path
    assert response["X-Frame-Options"] == "DENY", path
    assert response.get("Referrer-Policy") in ("same-origin", "strict-origin-when-cross-origin", "no-referrer"), path
    policy = parse_csp(response["Content-Security-Policy"])
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts is not None, path
    assert set(scripts) <= {"'self'", "'none'"}, f"{path}: script-src {scripts}"
    assert policy.get("frame-ancestors") == ["'none'"] or "sandbox" in policy, path
    assert policy.get("object-src", policy.get("default-src")) in (["'none'"], ["'self'"]), path


def inline_script_problems(html: str) -> list[str]:
    """What a `script-src 'self'` policy would block: inline <script> bodies, scripts without src, inline
    event handlers and javascript: URLs."""
    problems = []
    for match in re.finditer(r"<script\b([^>]*)>(.*?)</script\s*>", html, re.I | re.S):
        attributes, body = match.groups()
        if "src=" not in attributes.lower() or body.strip():
            problems.append(match[0][:120])
    problems += re.findall(r"<[^>]*\son[a-z]+\s*=[^>]*>", html, re.I)
    problems += re.findall(r"(?:href|src|action)\s*=\s*[\"']?\s*javascript:", html, re.I)
    return problems


@pytest.fixture
def alice_browser(alice) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice[0])
    return client


@pytest.fixture
def alice_job(alice, alice_api, upload, clip_path) -> Job:
    """A queued job on Alice's asset, with a failed-looking error and hostile strings where pages show them."""
    asset = upload(alice_api, clip_path)
    response = alice_api.post("/api/v1/jobs", {"operation": "transcode", "input": asset["id"]}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(id=response.json()["id"])
    job.params = {"<script>alert(1)</script>": "<img src=x onerror=alert(2)>"}
    job.error = {"code": "x", "message": "</p><script>alert(3)</script>"}
    job.result = {"note": "<script>alert(4)</script>"}
    job.save()
    Asset.objects.filter(id=asset["id"]).update(name='"><svg onload=alert(5)>.mp4')
    return job


@pytest.fixture
def route_values(alice_job) -> dict[str, str]:
    return {"job_id": alice_job.id, "action": "cancel", "index": "1"}


# --- CSRF ----------------------------------------------------------------------------------------------------


def test_pages_were_found():
    assert {"", "jobs/new", "jobs/run", "jobs/<str:job_id>/<str:action>", "accounts/login/"} <= set(PAGE_ROUTES)


@pytest.mark.parametrize("route", PAGE_ROUTES)
def test_a_post_without_the_csrf_token_is_refused(route, alice_browser, route_values):
    response = alice_browser.post(fill(route, route_values), {"format": "mp4", "operation": "transcode"})
    assert response.status_code == 403, (route, response.status_code)


@pytest.mark.parametrize("route", PAGE_ROUTES)
def test_a_post_with_the_csrf_token_passes_the_check(route, alice, alice_browser, route_values):
    """The control for the 403s above: the same post with the token is not refused by the CSRF check (the view
    may still answer 400, 404 or a redirect)."""
    alice_browser.get("/")
    token = alice_browser.cookies["csrftoken"].value
    response = alice_browser.post(fill(route, route_values), {"csrfmiddlewaretoken": token})
    assert response.status_code != 403, (route, response.content[:300])


def test_the_login_form_needs_the_csrf_token(alice):
    browser = Client(enforce_csrf_checks=True)
    credentials = {"username": "alice", "password": "alice-password"}
    assert browser.post("/accounts/login/", credentials).status_code == 403
    assert "_auth_user_id" not in browser.session
    page = browser.get("/accounts/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    response = browser.post("/accounts/login/", {**credentials, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert browser.session["_auth_user_id"] == str(alice[0].id)


def test_the_admin_login_needs_the_csrf_token(alice):
    alice[0].is_staff = True
    alice[0].save()
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/admin/login/", {"username": "alice", "password": "alice-password"}).status_code == 403


def test_the_api_with_a_session_needs_the_csrf_token_and_with_a_key_does_not(alice, alice_api):
    """Session-authenticated API calls are a browser's, so DRF checks CSRF for them; API keys are not sent by
    browsers on their own, so key calls need no token."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice[0])
    body = {"url": "https://mediahub.invalid/a.mp4"}
    refused = browser.post("/api/v1/webhooks", body, content_type="application/json")
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "CSRF" in refused.json()["error"]["message"]
    assert alice_api.post("/api/v1/webhooks", body, format="json").status_code != 403


# --- headers -------------------------------------------------------------------------------------------------


@pytest.fixture
def pages(alice_job) -> list[str]:
    """Every page without parameters, the job page, the admin's login and a 404."""
    plain = [fill(route, {}) for route in PAGE_ROUTES if not _PARAM.search(route)]
    return [*plain, f"/jobs/{alice_job.id}/", "/admin/login/", "/no/such/page/"]


def test_pages_carry_the_security_headers(alice, pages):
    browser = Client()
    browser.force_login(alice[0])
    for path in pages:
        response = browser.get(path)
        assert response.status_code in (200, 302, 404, 405), (path, response.status_code)
        assert_security_headers(response)


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("get", "/api/v1/jobs", None),
        ("get", "/api/v1/operations", None),
        ("get", "/api/v1/health", None),
        ("get", "/api/v1/jobs/job_00000000000000000000", None),  # 404
        ("post", "/api/v1/jobs", {"operation": "nope"}),  # 400
        ("get", "/api/schema/", None),
        ("get", "/api/docs/", None),
        ("get", "/api/redoc/", None),
    ],
)
def test_api_responses_carry_the_security_headers(method, path, body, alice_api, db):
    response = getattr(alice_api, method)(path, body, format="json") if body else getattr(alice_api, method)(path)
    assert response.status_code < 500 or path == "/api/v1/health", response.content  # 503: no worker in tests
    assert_security_headers(response)


def test_unauthenticated_api_responses_carry_them_too(anon_api, db):
    response = anon_api.get("/api/v1/jobs")
    assert response.status_code == 401
    assert_security_headers(response)


def test_downloads_are_sandboxed_and_never_sniffed(alice_api, upload, tmp_path):
    """A user's HTML or SVG is served as an attachment under a sandbox policy: it cannot run on our origin."""
    for name, text in (("page.html", "<script>alert(1)</script>"), ("image.svg", "<svg onload='alert(1)'/>")):
        path = tmp_path / name
        path.write_text(text)
        asset = upload(alice_api, path)
        response = alice_api.get(f"/api/v1/assets/{asset['id']}/content")
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert parse_csp(response["Content-Security-Policy"]).get("sandbox") == []


# --- production: HTTPS only ------------------------------------------------------------------------------------


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    return settings


def test_production_sends_hsts_on_https_and_marks_cookies_secure(production, alice):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/", secure=True)
    assert page["Strict-Transport-Security"].startswith("max-age=31536000")
    assert page.cookies["csrftoken"]["secure"] is True
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    login = {"username": "alice", "password": "alice-password", "csrfmiddlewaretoken": token}
    response = browser.post("/accounts/login/", login, secure=True, headers={"Referer": "https://testserver/"})
    assert response.status_code == 302, response.content[:300]
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["sessionid"]["httponly"] is True
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_hsts_is_only_sent_over_https(production, db):
    assert "Strict-Transport-Security" not in Client().get("/accounts/login/")


def test_the_production_settings_module_turns_these_on(monkeypatch):
    """mediahub/settings.py itself, read as production: the same values the fixture above sets."""
    import importlib

    import mediahub.settings

    monkeypatch.setenv("MEDIAHUB_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 50)
    monkeypatch.setenv("ALLOWED_HOSTS", "media.example.com")
    monkeypatch.delenv("DEBUG", raising=False)
    try:
        production = importlib.reload(mediahub.settings)
        assert production.DEBUG is False
        assert production.SESSION_COOKIE_SECURE and production.CSRF_COOKIE_SECURE
        assert production.SECURE_HSTS_SECONDS >= 31_536_000
        assert production.SECURE_CONTENT_TYPE_NOSNIFF and production.X_FRAME_OPTIONS == "DENY"
    finally:
        monkeypatch.undo()
        importlib.reload(mediahub.settings)


# --- no debug page ---------------------------------------------------------------------------------------------


SECRET = "boom-secret-detail /etc/passwd"


def _explode(*args, **kwargs):
    raise RuntimeError(SECRET)


def test_an_api_exception_gives_the_json_500_without_a_traceback(production, alice, monkeypatch):
    monkeypatch.setattr("jobs.api.jobs_for", _explode)
    browser = Client(raise_request_exception=False)
    browser.force_login(alice[0])
    response = browser.get("/api/v1/jobs")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}
    assert_security_headers(response)


def test_a_page_exception_gives_the_html_500_without_a_traceback(production, alice, monkeypatch):
    monkeypatch.setattr("jobs.pages.jobs_for", _explode)
    browser = Client(raise_request_exception=False)
    browser.force_login(alice[0])
    response = browser.get("/")
    assert response.status_code == 500
    html = response.content.decode()
    assert SECRET not in html and "Traceback" not in html and "RuntimeError" not in html
    assert "settings.py" not in html and "DEBUG" not in html
    assert_security_headers(response)


# --- templates: no inline script -------------------------------------------------------------------------------


def test_every_page_renders_without_inline_script(alice, alice_job, pages):
    browser = Client()
    browser.force_login(alice[0])
    rendered = {path: browser.get(path) for path in pages}
    anonymous = Client()
    rendered |= {f"anonymous {path}": anonymous.get(path) for path in ("/accounts/login/", "/admin/login/")}
    scanned = 0
    for path, response in rendered.items():
        if response.status_code in (302, 405):  # a POST-only URL, or one that redirects a GET
            continue
        assert response.status_code in (200, 404), (path, response.status_code)
        html = response.content.decode()
        assert inline_script_problems(html) == [], path
        scanned += "<html" in html.lower()
    assert scanned >= 5
    detail = rendered[f"/jobs/{alice_job.id}/"].content.decode()
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in detail  # the hostile strings are there, escaped


def test_the_inline_script_scan_finds_what_it_looks_for():
    """The control for the scan above."""
    assert inline_script_problems("<script>alert(1)</script>")
    assert inline_script_problems("<script src='/static/a.js'>alert(1)</script>")
    assert inline_script_problems('<img src=x onerror="alert(1)">')
    assert inline_script_problems('<a href="javascript:alert(1)">x</a>')
    assert inline_script_problems('<script src="/static/vendor/htmx.min.js" defer></script>') == []


@pytest.mark.parametrize(
    "path", ["/api/v1/jobs?status=queued%00", "/api/v1/assets/ast_%00", "/internal/v1/queue?x=%00", "/jobs/job_%00/"]
)
def test_nul_characters_in_urls_are_a_400_not_a_database_error(alice_api, path):
    response = alice_api.get(path)

    assert response.status_code == 400
    if path.startswith(("/api/", "/internal/")):
        assert response.json()["error"] == {"code": "bad_request", "message": "NUL characters are not allowed in URLs."}
