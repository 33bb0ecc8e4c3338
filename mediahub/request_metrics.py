"""HTTP request latency per route, kept by each web process. With PROMETHEUS_MULTIPROC_DIR set (before this
module is first imported) every process writes its figures there and GET /metrics sums them across processes."""

from prometheus_client import Histogram

UNMATCHED_ROUTE = "<unmatched>"

REQUEST_DURATION = Histogram(
    "mediahub_http_request_duration_seconds",
    "Time from a request's arrival to its response (to the first byte of a streamed one), by URL pattern.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
# Other verbs are counted together, so a client inventing methods cannot add label values.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def request_route(request) -> str:
    """The URL pattern that served the request (`api/v1/jobs/<str:job_id>`), never its raw path."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else UNMATCHED_ROUTE


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(
        route=route, method=method if method in METHODS else "other", status=f"{status // 100}xx"
    ).observe(seconds)
