"""One user never sees or touches another's objects (404, never 403), and anonymous callers get 401.

The API endpoints are found by walking the URLconf, so a new endpoint under /api/v1/ is covered without
editing this file; one with a URL parameter this file does not know fails until it is added to `id_for`.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from jobs.models import Asset, Batch, Job, WebhookDelivery, WebhookEndpoint

METHODS = ["get", "post", "put", "patch", "delete"]
PUBLIC_ROUTES = {"api/v1/health"}
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
    webhook endpoint and a delivery to it."""
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
        url="http://127.0.0.1:9/hook",
        event_id="evt_isolation",
        event_type="job.succeeded",
        body="{}",
        status=WebhookDelivery.Status.FAILED,
        attempts=1,
    )
    credential = alice_api.post("/api/v1/provider-keys", {"provider": "runway", "secret": "rw_secret_1234"})
    assert credential.status_code == 201, credential.content
    return {
        "asset": asset["id"],
        "job": job["id"],
        "batch": batch.json()["id"],
        "endpoint": endpoint.json()["id"],
        "delivery": delivery.id,
        "key": alice[0].api_keys.get().id,
        "credential": credential.json()["id"],
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
        "member": "index.m3u8",
    }


BOGUS_IDS = {
    "asset_id": "ast_00000000000000000000",
    "job_id": "job_00000000000000000000",
    "batch_id": "bat_00000000000000000000",
    "endpoint_id": "whk_00000000000000000000",
    "delivery_id": "whd_00000000000000000000",
    "key_id": "key_00000000000000000000",
    "credential_id": "pk_00000000000000000000",
    "member": "index.m3u8",
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
