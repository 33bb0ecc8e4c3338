"""One user never sees or touches another's objects (404, never 403), and anonymous callers get 401.

The API endpoints, the dashboard pages and the admin are found by walking the URLconf, so a new endpoint or page
is covered without editing this file; one with a URL parameter this file does not know fails until it is added to
`id_for`. WebSockets, Server-Sent Events and downloads through the ASGI application: tests/test_isolation_realtime.py.
"""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from jobs.models import Asset, Batch, Job, WebhookDelivery, WebhookEndpoint
from keys.models import ApiKey, ProviderCredential

METHODS = ["get", "post", "put", "patch", "delete"]
PUBLIC_ROUTES = {"api/v1/health", "api/v1/health/live", "api/v1/health/ready", "api/v1/health/workers"}
_PARAM = re.compile(r"<(?:(?P<converter>[^:>]+):)?(?P<name>[^>]+)>")


def _walk(resolvers, prefix=""):
    for entry in resolvers:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def api_routes() -> list[str]:
    routes = []
    for route, entry in _walk(get_resolver().url_patterns):
        if route.startswith("api/v1/"):
            assert isinstance(entry.pattern, RoutePattern), f"{route}: regex routes are not walked by this test"
            routes.append(route)
    return sorted(set(routes))


API_ROUTES = api_routes()
OBJECT_ROUTES = [route for route in API_ROUTES if _PARAM.search(route)]
LIST_ROUTES = [route for route in API_ROUTES if not _PARAM.search(route) and route not in PUBLIC_ROUTES]


def fill(route: str, ids: dict[str, str]) -> str:
    def replace(match):
        name = match["name"]
        assert name in ids, f"/{route}: give <{name}> a value in id_for and BOGUS_IDS (tests/test_isolation.py)"
        return ids[name]

    return "/" + _PARAM.sub(replace, route)


@pytest.fixture
def alice_objects(alice, alice_api, upload, clip_path, settings) -> dict:
    """Alice's asset, a queued job and a batch on it (never enqueued: on-commit callbacks are not run here), a
    webhook endpoint with a delivery of the job's event to it, her API key, a provider key, a composition and a
    generation."""
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    asset = upload(alice_api, clip_path)
    body = {"operation": "transcode", "input": asset["id"]}
    response = alice_api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 202, response.content
    job = response.json()
    batch = alice_api.post("/api/v1/batches", {"jobs": [body]}, format="json")
    assert batch.status_code == 202, batch.content
    endpoint = alice_api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}, format="json")
    assert endpoint.status_code == 201, endpoint.content
    delivery = WebhookDelivery.objects.create(
        owner=alice[0],
        endpoint_id=endpoint.json()["id"],
        job_id=job["id"],  # so the job page's redeliver URL names a real delivery of that job
        url="http://127.0.0.1:9/hook",
        event_id="evt_isolation",
        event_type="job.succeeded",
        body="{}",
        status=WebhookDelivery.Status.FAILED,
        attempts=1,
    )
    credential = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": "rw_secret_1234"})
    assert credential.status_code == 201, credential.content
    composition = alice_api.post("/api/v1/compositions", {"clips": [{"asset": asset["id"]}]}, format="json")
    assert composition.status_code == 202, composition.content
    generation = alice_api.post("/api/v1/generations", {"provider": "local", "prompt": "Isolation"}, format="json")
    assert generation.status_code == 202, generation.content
    clips = alice_api.post("/api/v1/clips", {"input": asset["id"]}, format="json")
    assert clips.status_code == 202, clips.content
    return {
        "asset": asset["id"],
        "job": job["id"],
        "batch": batch.json()["id"],
        "endpoint": endpoint.json()["id"],
        "delivery": delivery.id,
        "key": alice[0].api_keys.get().id,
        "credential": credential.json()["id"],
        "composition": composition.json()["id"],
        "generation": generation.json()["id"],
        "clips_job": clips.json()["id"],
    }


@pytest.fixture
def id_for(alice_objects) -> dict[str, str]:
    return {
        "asset_id": alice_objects["asset"],
        "job_id": alice_objects["job"],
        "batch_id": alice_objects["batch"],
        "endpoint_id": alice_objects["endpoint"],
        "delivery_id": alice_objects["delivery"],
        "key_id": alice_objects["key"],
        "credential_id": alice_objects["credential"],
        "composition_id": alice_objects["composition"],
        "generation_id": alice_objects["generation"],
        "clips_job_id": alice_objects["clips_job"],
        "member": "index.m3u8",
        "action": "cancel",
        "index": "1",
    }


BOGUS_IDS = {
    "asset_id": "ast_00000000000000000000",
    "job_id": "job_00000000000000000000",
    "batch_id": "bat_00000000000000000000",
    "endpoint_id": "whk_00000000000000000000",
    "delivery_id": "whd_00000000000000000000",
    "key_id": "key_00000000000000000000",
    "credential_id": "pk_00000000000000000000",
    "composition_id": "cmp_00000000000000000000",
    "generation_id": "gen_00000000000000000000",
    "clips_job_id": "job_00000000000000000000",
    "member": "index.m3u8",
    "action": "cancel",
    "index": "1",
}


def assert_error_shape(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, (response.request["PATH_INFO"], response.content)
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] and body["error"]["message"], body
    if code:
        assert body["error"]["code"] == code, body


def test_the_walk_finds_the_contract_endpoints():
    for route in [
        "api/v1/health",
        "api/v1/operations",
        "api/v1/assets",
        "api/v1/assets/<str:asset_id>",
        "api/v1/assets/<str:asset_id>/content",
        "api/v1/jobs",
        "api/v1/jobs/<str:job_id>",
        "api/v1/jobs/<str:job_id>/cancel",
        "api/v1/jobs/<str:job_id>/retry",
        "api/v1/jobs/<str:job_id>/events",
    ]:
        assert route in API_ROUTES


# --- anonymous ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", [r for r in API_ROUTES if r not in PUBLIC_ROUTES])
def test_anonymous_gets_401_on_every_api_endpoint(route, anon_api, id_for):
    path = fill(route, id_for)
    statuses = {}
    for method in METHODS:
        response = getattr(anon_api, method)(path)
        statuses[method] = response.status_code
        assert response.status_code in (401, 405), (method, path, response.status_code, response.content)
        if response.status_code == 401:
            assert_error_shape(response, 401)
            assert response["WWW-Authenticate"]
    assert 401 in statuses.values(), statuses


def test_anonymous_can_read_health(anon_api):
    response = anon_api.get("/api/v1/health")

    assert response.status_code in (200, 503)
    assert set(response.json()) == {"status", "checks"}


def test_anonymous_changes_nothing(anon_api, id_for):
    for route in OBJECT_ROUTES:
        anon_api.post(fill(route, id_for))
        anon_api.delete(fill(route, id_for))

    assert Asset.objects.filter(id=id_for["asset_id"]).exists()
    assert Job.objects.get(id=id_for["job_id"]).status == Job.Status.QUEUED


# --- another user ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", OBJECT_ROUTES)
def test_other_user_gets_404_on_every_object_url(route, bob_api, id_for):
    path = fill(route, id_for)
    statuses = {}
    for method in METHODS:
        response = getattr(bob_api, method)(path)
        statuses[method] = response.status_code
        assert response.status_code in (404, 405), (method, path, response.status_code, response.content)
        if response.status_code == 405:
            assert_error_shape(response, 405, "method_not_allowed")
        if response.status_code == 404:
            assert_error_shape(response, 404, "not_found")
            # The same answer as for an id that does not exist: a 404 must not reveal that the object exists.
            unknown = getattr(bob_api, method)(fill(route, BOGUS_IDS))
            assert (unknown.status_code, unknown.json()) == (404, response.json())
    assert 404 in statuses.values(), statuses


def test_other_user_changes_nothing(bob_api, id_for):
    for route in OBJECT_ROUTES:
        bob_api.post(fill(route, id_for))
        bob_api.delete(fill(route, id_for))

    assert Asset.objects.filter(id=id_for["asset_id"]).exists()
    job = Job.objects.get(id=id_for["job_id"])
    assert job.status == Job.Status.QUEUED
    assert job.attempts == 0
    assert Batch.objects.get(id=id_for["batch_id"]).jobs.get().status == Job.Status.QUEUED
    assert WebhookEndpoint.objects.filter(id=id_for["endpoint_id"]).exists()
    delivery = WebhookDelivery.objects.get(id=id_for["delivery_id"])
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.FAILED, 1)


def test_owner_reaches_the_same_urls(alice_api, id_for):
    """The control for the 404s above: the same URLs work for their owner."""
    assert alice_api.get(f"/api/v1/assets/{id_for['asset_id']}").status_code == 200
    assert alice_api.get(f"/api/v1/assets/{id_for['asset_id']}/content").status_code == 200
    assert alice_api.get(f"/api/v1/jobs/{id_for['job_id']}").status_code == 200
    assert alice_api.get(f"/api/v1/batches/{id_for['batch_id']}").status_code == 200
    assert alice_api.get(f"/api/v1/webhooks/{id_for['endpoint_id']}/deliveries").json()["results"]


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_other_users_list_never_shows_alices_objects(route, bob_api, alice_api, alice_objects):
    path = "/" + route
    bobs = bob_api.get(path)
    assert bobs.status_code in (200, 405), bobs.content  # 405: a create-only endpoint
    for object_id in alice_objects.values():
        assert object_id not in bobs.content.decode()
    # The control: Alice's own list is not empty for the lists of her objects.
    if route in ("api/v1/assets", "api/v1/jobs", "api/v1/batches", "api/v1/webhooks"):
        assert alice_api.get(path).json()["results"]


@pytest.mark.parametrize("query", ["", "?status=queued", "?operation=transcode", "?kind=video"])
def test_other_users_filtered_lists_are_empty(bob_api, alice_objects, query):
    assert bob_api.get(f"/api/v1/jobs{query}").json()["results"] == []
    assert bob_api.get(f"/api/v1/assets{query}").json()["results"] == []


# --- dashboard pages ----------------------------------------------------------------------------------------


@pytest.fixture
def bob_browser(bob) -> Client:
    client = Client()
    client.force_login(bob[0])
    return client


def test_other_user_gets_404_on_the_job_page_and_its_actions(bob_browser, id_for):
    job_id = id_for["job_id"]

    assert bob_browser.get(f"/jobs/{job_id}/").status_code == 404
    assert bob_browser.post(f"/jobs/{job_id}/cancel").status_code == 404
    assert bob_browser.post(f"/jobs/{job_id}/retry").status_code == 404
    assert Job.objects.get(id=job_id).status == Job.Status.QUEUED


def test_owner_sees_the_job_page(alice, id_for):
    client = Client()
    client.force_login(alice[0])

    response = client.get(f"/jobs/{id_for['job_id']}/")

    assert response.status_code == 200
    assert id_for["job_id"] in response.content.decode()


def test_other_users_dashboard_never_shows_alices_jobs(bob_browser, id_for):
    for path in ("/", "/jobs/rows"):
        response = bob_browser.get(path)
        assert response.status_code == 200
        assert id_for["job_id"] not in response.content.decode()


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/"),
        ("get", "/jobs/rows"),
        ("get", "/jobs/new"),
        ("post", "/jobs/new"),
        ("post", "/jobs/run"),
        ("get", "/jobs/{job_id}/"),
        ("post", "/jobs/{job_id}/cancel"),
        ("post", "/jobs/{job_id}/retry"),
        ("post", "/jobs/{job_id}/deliveries/{delivery_id}/redeliver"),
    ],
)
def test_dashboard_redirects_anonymous_users_to_login(client, id_for, method, path):
    path = path.format(**id_for)

    response = getattr(client, method)(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert Job.objects.get(id=id_for["job_id"]).status == Job.Status.QUEUED


# --- every page, found by walking the URLconf ---------------------------------------------------------------

API_PREFIXES = ("api/v1/", "internal/")  # DRF: anonymous callers get 401, not a login page
NOT_PAGES = ("admin/", "accounts/login/", "accounts/logout/", "static/")  # the admin is walked below
# Reachable without logging in, on purpose; a new public page must be added here deliberately.
PUBLIC_PAGES = {
    "api/schema/": "the OpenAPI document",
    "api/docs/": "Swagger UI over the schema",
    "api/redoc/": "ReDoc over the schema",
    "metrics": "aggregate counts, served to MEDIAHUB_METRICS_ALLOWLIST networks only",
}
ALL_ROUTES = sorted({route for route, _ in _walk(get_resolver().url_patterns)})


def page_routes() -> list[str]:
    routes = []
    for route, entry in _walk(get_resolver().url_patterns):
        if route.startswith(API_PREFIXES + NOT_PAGES) or route in PUBLIC_PAGES:
            continue
        assert isinstance(entry.pattern, RoutePattern), f"{route}: regex routes are not walked by this test"
        routes.append(route)
    return sorted(set(routes))


PAGE_ROUTES = page_routes()
OBJECT_PAGES = [route for route in PAGE_ROUTES if _PARAM.search(route)]
INTERNAL_ROUTES = [route for route in ALL_ROUTES if route.startswith("internal/")]


def assert_alices_objects_untouched(ids: dict[str, str]) -> None:
    assert Asset.objects.filter(id=ids["asset_id"]).exists()
    job = Job.objects.get(id=ids["job_id"])
    assert (job.status, job.attempts) == (Job.Status.QUEUED, 0)
    assert Batch.objects.get(id=ids["batch_id"]).jobs.get().status == Job.Status.QUEUED
    assert WebhookEndpoint.objects.filter(id=ids["endpoint_id"]).exists()
    delivery = WebhookDelivery.objects.get(id=ids["delivery_id"])
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.FAILED, 1)
    assert ApiKey.objects.get(id=ids["key_id"]).is_active
    credential = ProviderCredential.objects.get(id=ids["credential_id"])
    assert credential.status == ProviderCredential.Status.ACTIVE and credential.secret_encrypted


def assert_redirected_to(response, login: str, path: str) -> None:
    assert response.status_code == 302, (path, response.status_code)
    location = urlsplit(response["Location"])
    assert location.path == login, (path, response["Location"])
    assert parse_qs(location.query)["next"] == [path], (path, response["Location"])


def test_the_page_walk_finds_the_dashboard():
    for route in ["", "jobs/<str:job_id>/", "jobs/<str:job_id>/<str:action>"]:
        assert route in PAGE_ROUTES
    for route in PUBLIC_PAGES:
        assert route in ALL_ROUTES, f"{route} is no longer routed: drop it from PUBLIC_PAGES"


@pytest.mark.parametrize("route", PAGE_ROUTES)
def test_anonymous_is_sent_to_login_from_every_page(route, client, id_for):
    path = fill(route, id_for)
    statuses = {}
    for method in METHODS:
        response = getattr(client, method)(path)
        statuses[method] = response.status_code
        # 405: a method the page never takes, refused before anything is looked up.
        assert response.status_code in (302, 405), (method, path, response.status_code)
        if response.status_code == 302:
            assert_redirected_to(response, "/accounts/login/", path)
    assert 302 in statuses.values(), statuses
    assert_alices_objects_untouched(id_for)


@pytest.mark.parametrize("route", OBJECT_PAGES)
def test_other_user_gets_404_on_every_object_page(route, bob_browser, id_for):
    path, unknown_path = fill(route, id_for), fill(route, BOGUS_IDS)
    statuses = {}
    for method in METHODS:
        response = getattr(bob_browser, method)(path)
        statuses[method] = response.status_code
        assert response.status_code in (404, 405), (method, path, response.status_code)
        if response.status_code == 404:
            # The same page as for ids that do not exist: a 404 must not reveal that the object exists.
            unknown = getattr(bob_browser, method)(unknown_path)
            assert unknown.status_code == 404
            assert response.content.replace(path.encode(), b"") == unknown.content.replace(unknown_path.encode(), b"")
    assert 404 in statuses.values(), statuses
    assert_alices_objects_untouched(id_for)


@pytest.mark.parametrize("route", OBJECT_PAGES)
def test_owner_reaches_every_object_page(route, alice, id_for, monkeypatch):
    """The control for the 404s above: with the same ids, the owner is not told 404."""
    monkeypatch.setattr("keys.provider_checks._CHECKS", {})  # a validate page must not ask a real provider
    client = Client()
    client.force_login(alice[0])
    path = fill(route, id_for)

    response = client.get(path)
    if response.status_code == 405:
        response = client.post(path)

    assert response.status_code in (200, 302), (path, response.status_code)
    if response.status_code == 302:
        assert not response["Location"].startswith("/accounts/login/")


def test_a_page_mixing_own_and_other_users_ids_is_404(bob, bob_browser, id_for):
    """Bob's own job with Alice's delivery: each id is checked against its own owner."""
    own_job = Job.objects.create(owner=bob[0], operation="transcode", params={"format": "mp4"})

    response = bob_browser.post(f"/jobs/{own_job.id}/deliveries/{id_for['delivery_id']}/redeliver")

    assert response.status_code == 404
    assert_alices_objects_untouched(id_for)


@pytest.mark.parametrize("route", sorted(PUBLIC_PAGES))
def test_public_pages_show_no_users_objects(route, client, alice_objects):
    response = client.get("/" + route)
    assert response.status_code == 200, (route, response.status_code)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    for object_id in alice_objects.values():
        assert str(object_id).encode() not in body


def test_metrics_are_not_public_outside_the_allowed_networks(client, db):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


@pytest.mark.parametrize("route", INTERNAL_ROUTES)
def test_anonymous_gets_401_on_every_internal_endpoint(route, anon_api, id_for):
    path = fill(route, id_for)
    statuses = {}
    for method in METHODS:
        response = getattr(anon_api, method)(path)
        statuses[method] = response.status_code
        assert response.status_code in (401, 405), (method, path, response.status_code)
    assert 401 in statuses.values(), statuses


# --- the admin ------------------------------------------------------------------------------------------------

ADMIN_PUBLIC = {"admin/login/", "admin/logout/"}
# Real objects for the admin's <object_id>, by model: a non-staff POST to a delete page must not delete them.
ADMIN_OBJECTS = {
    "jobs/asset": "asset_id",
    "jobs/job": "job_id",
    "jobs/batch": "batch_id",
    "jobs/webhookendpoint": "endpoint_id",
    "jobs/webhookdelivery": "delivery_id",
    "keys/apikey": "key_id",
    "keys/providercredential": "credential_id",
}
_ADMIN_MODEL = re.compile(r"^admin/(?P<model>[^/<]+/[^/<]+)/<")


def admin_paths(ids: dict[str, str], user_id: int) -> list[str]:
    """One concrete path for every admin URL (each app's index for the app-list regex, a missing page for the
    catch-all), with Alice's objects where the model has one."""
    labels = sorted({model._meta.app_label for model in admin.site._registry})
    paths = []
    for route, entry in _walk(get_resolver().url_patterns):
        if not route.startswith("admin/") or route in ADMIN_PUBLIC:
            continue
        if not isinstance(entry.pattern, RoutePattern):
            groups = set(entry.pattern.regex.groupindex)
            assert groups in ({"app_label"}, {"url"}), f"{route}: give this admin regex a path in admin_paths"
            paths += [f"/admin/{label}/" for label in labels] if groups == {"app_label"} else ["/admin/no-such-page/"]
            continue
        model = _ADMIN_MODEL.match(route)
        object_id = ids[ADMIN_OBJECTS[model["model"]]] if model and model["model"] in ADMIN_OBJECTS else "1"
        values = {"object_id": object_id, "content_type_id": "1", "id": str(user_id)}
        paths.append(fill(route, {**ids, **values}))
    return paths


@pytest.mark.parametrize("who", ["anonymous", "non-staff user"])
def test_the_admin_sends_everyone_but_staff_to_its_login(who, bob, alice, id_for):
    client = Client()
    if who != "anonymous":
        client.force_login(bob[0])
    paths = admin_paths(id_for, alice[0].id)
    assert "/admin/" in paths and f"/admin/jobs/job/{id_for['job_id']}/delete/" in paths

    for path in paths:
        assert_redirected_to(client.get(path), "/admin/login/", path)
        assert_redirected_to(client.post(path, {"post": "yes", "action": "delete_selected"}), "/admin/login/", path)
    assert_alices_objects_untouched(id_for)
    assert get_user_model().objects.filter(id=alice[0].id, is_active=True).exists()


def test_a_non_staff_user_cannot_log_in_to_the_admin(bob):
    client = Client()

    response = client.post("/admin/login/", {"username": "bob", "password": "bob-password", "next": "/admin/"})

    assert response.status_code == 200  # the form again, with its error
    assert "_auth_user_id" not in client.session
    assert_redirected_to(client.get("/admin/"), "/admin/login/", "/admin/")


def test_staff_reach_the_admin(db, id_for):
    """The control for the redirects above."""
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="root-password"))

    assert client.get("/admin/").status_code == 200
    assert client.get(f"/admin/jobs/job/{quote(id_for['job_id'])}/change/").status_code == 200
