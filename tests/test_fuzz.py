"""Property tests with hypothesis: no request body or query the API accepts gives a 500, and every 4xx has the
contract's error shape; the filter-graph escaping helper either refuses a value or FFmpeg receives it exactly.

No network: name resolution answers only for IP literals, and any HTTP request an import would make is recorded
and refused (the URLs are private, loopback or `.invalid`, so none should get that far)."""

import base64
import ipaddress
import json
import socket
import string
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import ffmpeg
import httpx
import pytest
from hypothesis import HealthCheck, assume, configuration, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from jobs.ffmpeg.filtergraph import FilterValueError, filter_path, filter_value
from jobs.operations import REGISTRY
from tests.media import ffmpeg as mediaffmpeg

# Hypothesis keeps its example database and caches in ./.hypothesis by default: not in the source tree.
configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "mediahub-hypothesis")

FUZZ = examples(
    database=None,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- no network --------------------------------------------------------------------------------------------------

_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def no_network(monkeypatch):
    """IP literals resolve to themselves; names fail as unresolvable; an HTTP request is recorded and refused."""
    attempts: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            ipaddress.ip_address(str(host).strip("[]").split("%")[0])
        except ValueError:
            attempts.append(f"resolve {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "fuzz tests resolve no names") from None
        return _real_getaddrinfo(host, port, *args, **kwargs)

    def send(self, request, *args, **kwargs):
        attempts.append(f"http {request.url}")
        raise httpx.ConnectError("fuzz tests make no requests", request=request)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(httpx.Client, "send", send)
    yield attempts
    assert not [a for a in attempts if a.startswith("http")], attempts


# --- strategies --------------------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, -1, 1, 2, 16, 0.5, 1e308, -1e308, 10**30, "", "0", "1", "true", "null", "NaN", "1e999"])
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def _schema_hints() -> tuple[list[str], list]:
    """Param names and enum values from every operation's params schema, so params are sometimes nearly valid."""
    names, values = set(), []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    names.update(value)
                if key == "enum" and isinstance(value, list):
                    values.extend(value)
                if key == "const":
                    values.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for op in REGISTRY.values():
        walk(op.params_model.model_json_schema())
    return sorted(names), values


PARAM_NAMES, ENUM_VALUES = _schema_hints()
OPERATIONS = sorted(REGISTRY)
param_values = (
    json_values
    | st.sampled_from(ENUM_VALUES)
    | st.lists(
        st.fixed_dictionaries({"name": st.sampled_from(ENUM_VALUES)}, optional={"degrees": st.sampled_from([90, 45])}),
        max_size=3,
    )
)
params = st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=12), param_values, max_size=6)
operations = st.sampled_from(OPERATIONS) | st.text(max_size=40)

REFUSED_HOSTS = [
    "127.0.0.1",
    "10.0.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",
    "[::1]",
    "[fd00::1]",
    "[::ffff:127.0.0.1]",
    "localhost",
    "mediahub-fuzz.invalid",
    "a..invalid",
]
hosts = st.sampled_from(REFUSED_HOSTS) | st.from_regex(r"\A[a-z0-9-]{1,20}\.invalid\Z")
urls = (
    st.builds(
        "{}://{}{}{}".format,
        st.sampled_from(["http", "https", "ftp", "file", "gopher", "HTTP", "javascript", ""]),
        st.sampled_from(["", "user:pass@"]) | st.just("x@"),
        hosts,
        st.sampled_from(["", ":80", ":0", ":65536", ":-1", ":abc"]) | st.builds("/{}".format, st.text(max_size=20)),
    )
    | st.text(max_size=60)
    | st.just("")
)


def assert_contract(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        error = body["error"]
        assert isinstance(error.get("code"), str) and error["code"], body
        assert isinstance(error.get("message"), str) and error["message"], body
        assert set(error) <= {"code", "message", "fields", "detail"}, body
        for name, messages in error.get("fields", {}).items():
            assert isinstance(name, str) and isinstance(messages, list), body
            assert all(isinstance(message, str) for message in messages), body


def post_json(client, path: str, body):
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def asset_ids(alice_api, upload, clip_path, tone_path, tmp_path) -> list[str]:
    """A video (first), an audio file, subtitles and an image of Alice's."""
    srt = tmp_path / "fuzz.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHI\n")
    png = tmp_path / "fuzz.png"
    mediaffmpeg("-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1", str(png))
    return [upload(alice_api, path)["id"] for path in (clip_path, tone_path, srt, png)]


def from_schema(node: dict, defs: dict, names_asset: set[str], asset_ids: list[str], name: str = ""):
    """Values that mostly satisfy one JSON schema node of an operation's params (bounds, enums, patterns,
    nested filters), with the params that name assets drawn from the test's assets: requests that get past the
    first check, so the deeper ones are fuzzed too."""
    if name in names_asset:
        return st.sampled_from(asset_ids)
    if "$ref" in node:
        return from_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs, names_asset, asset_ids, name)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return st.one_of([from_schema(sub, defs, names_asset, asset_ids, name) for sub in node[key]])
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    if kind == "integer":
        return st.integers(low, high) | st.sampled_from([v for v in (low, high, 0, -1) if v is not None])
    if kind == "number":
        edges = st.sampled_from([v for v in (low, high, 0, -0.0, 1e-9) if v is not None])
        return st.floats(low, high, allow_nan=False, allow_infinity=False) | edges
    if kind == "string":
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True)
        return st.text(max_size=min(node.get("maxLength", 40), 60))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(node.get("items", {}), defs, names_asset, asset_ids)
        return st.lists(items, min_size=node.get("minItems", 0), max_size=min(node.get("maxItems", 4), 4))
    if kind == "object" and "properties" in node:
        properties = {
            key: from_schema(value, defs, names_asset, asset_ids, key) for key, value in node["properties"].items()
        }
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {key: value for key, value in properties.items() if key in required},
            optional={key: value for key, value in properties.items() if key not in required},
        )
    return json_values


def ids(asset_ids: list[str]):
    return st.sampled_from(asset_ids) | st.text(max_size=40) | json_values


def near_valid_jobs(asset_ids: list[str]):
    """A real operation on the test's assets with params drawn from its schema, sometimes with one junk param."""

    def body(name: str):
        op = REGISTRY[name]
        schema = op.params_model.model_json_schema()
        valid = from_schema(schema, schema.get("$defs", {}), set(op.asset_params), asset_ids)
        junk = st.tuples(valid, st.sampled_from(PARAM_NAMES) | st.text(max_size=8), json_values).map(
            lambda t: {**t[0], t[1]: t[2]}
        )
        count = st.integers(op.min_inputs, min(op.max_inputs, 3))
        some = st.just(asset_ids[0]) | st.sampled_from(asset_ids)  # mostly the video: most operations want one
        inputs = count.flatmap(lambda n: st.lists(some, min_size=n, max_size=n))
        return st.fixed_dictionaries(
            {"operation": st.just(name), "inputs": inputs, "params": valid | valid | junk},
            optional={"priority": st.integers(0, 9)},
        )

    return st.sampled_from(OPERATIONS).flatmap(body)


def job_bodies(asset_ids: list[str]):
    random = st.fixed_dictionaries(
        {},
        optional={
            "operation": operations,
            "input": ids(asset_ids),
            "inputs": st.lists(ids(asset_ids), max_size=4) | json_values,
            "params": params | json_values,
            "priority": json_values,
            "webhook_url": urls,
        },
    )
    return near_valid_jobs(asset_ids) | near_valid_jobs(asset_ids) | random


# --- the API -----------------------------------------------------------------------------------------------------


@pytest.fixture
def fuzz_client(alice_api, no_network, settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = []
    return alice_api


def test_post_jobs(fuzz_client, asset_ids):
    @FUZZ
    @given(body=job_bodies(asset_ids) | json_values, key=st.none() | st.sampled_from(["k1", "k2"]) | st.text())
    def check(body, key):
        headers = {} if key is None else {"Idempotency-Key": key}
        response = fuzz_client.post("/api/v1/jobs", json.dumps(body), content_type="application/json", headers=headers)
        assert_contract(response)

    check()


def test_post_jobs_with_raw_bodies(fuzz_client):
    @FUZZ
    @given(
        raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
        content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]),
    )
    def check(raw, content_type):
        response = fuzz_client.generic("POST", "/api/v1/jobs", raw, content_type=content_type)
        assert_contract(response)

    check()


def test_post_batches(fuzz_client, asset_ids):
    @FUZZ
    @given(
        body=st.fixed_dictionaries(
            {},
            optional={
                "jobs": st.lists(job_bodies(asset_ids) | json_values, max_size=4) | json_values,
                "webhook_url": urls,
            },
        )
        | json_values
    )
    def check(body):
        assert_contract(post_json(fuzz_client, "/api/v1/batches", body))

    check()


def test_post_webhooks(fuzz_client, no_network):
    events = st.lists(st.sampled_from(["job.succeeded", "job.failed", "batch.finished", "*"]) | st.text(max_size=40))
    body = st.fixed_dictionaries(
        {}, optional={"url": urls, "events": events | json_values, "description": st.text(max_size=300) | json_values}
    )

    @FUZZ
    @given(body=body | json_values)
    def check(body):
        response = post_json(fuzz_client, "/api/v1/webhooks", body)
        assert_contract(response)
        assert response.status_code != 201, response.content  # every URL here is refused

    check()


def test_post_assets_url_imports(fuzz_client, no_network):
    @FUZZ
    @given(body=st.fixed_dictionaries({"url": urls}) | json_values)
    def check(body):
        response = post_json(fuzz_client, "/api/v1/assets", body)
        assert_contract(response)
        assert response.status_code == 400, response.content

    check()


def test_list_filters(fuzz_client, asset_ids):
    cursors = st.text(max_size=40) | st.builds(
        lambda query: base64.b64encode(urlencode(query).encode()).decode(),
        st.dictionaries(st.sampled_from(["o", "r", "p", "x"]), st.text(string.printable, max_size=30), max_size=3),
    )
    query = st.fixed_dictionaries(
        {},
        optional={
            "status": st.sampled_from(["queued", "running", "succeeded", "failed", "cancelled"]) | st.text(max_size=20),
            "operation": operations,
            "kind": st.sampled_from(["video", "audio", "data"]) | st.text(max_size=20),
            "limit": st.integers(-5, 10**6).map(str) | st.text(max_size=10),
            "cursor": cursors,
        },
    )
    paths = st.sampled_from(["/api/v1/jobs", "/api/v1/assets", "/api/v1/batches", "/api/v1/webhooks"])

    @FUZZ
    @given(path=paths, query=query)
    def check(path, query):
        response = fuzz_client.get(path, query)
        assert_contract(response)
        if response.status_code == 200:
            assert set(response.json()) >= {"results", "next", "previous"}

    check()


FORGED_POSITIONS = [
    "abc",
    "",
    "2024-13-45",
    "9" * 40,
    "\x00",
    "2024-01-01T00:00:00+99:00",
    "0001-01-01 00:00:00-01:00",
    "9999-12-31 23:59:59+00:00",
    "9999-12-31 23:59:59-01:00",
]


@pytest.mark.parametrize("position", FORGED_POSITIONS)
def test_a_forged_cursor_position_is_a_clean_4xx(fuzz_client, asset_ids, position):
    """A cursor is base64 of `o=…&r=…&p=<created_at>`; a position that is not a time must not reach the query."""
    cursor = base64.b64encode(urlencode({"o": 0, "r": 0, "p": position}).encode()).decode()
    for path in ("/api/v1/jobs", "/api/v1/assets", "/api/v1/batches", "/api/v1/webhooks"):
        assert_contract(fuzz_client.get(path, {"cursor": cursor}))


def test_real_cursors_still_page_both_ways(fuzz_client, asset_ids):
    """The control for the forged cursors above: `next` and `previous` cursors we wrote are accepted."""
    first = fuzz_client.get("/api/v1/assets", {"limit": 1}).json()
    second = fuzz_client.get(first["next"]).json()
    back = fuzz_client.get(second["previous"]).json()
    assert [page["results"][0]["id"] for page in (first, second, back)] == [asset_ids[3], asset_ids[2], asset_ids[3]]


# --- filter_value: refused, or received exactly --------------------------------------------------------------------


FILTER_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"]) | st.sampled_from(list("\\'\":=,;[]%{} \t\n\r\0")), max_size=40
)


@examples(database=None, max_examples=300, deadline=None)
@given(text=FILTER_TEXT)
def test_filter_value_returns_the_text_or_raises_its_documented_error(text):
    try:
        value = filter_value(text)
    except FilterValueError:
        assert "\0" in text or text != text.strip(" \t\n\r"), repr(text)
        return
    assert value == text


def _received_by_ffmpeg(tmp_path, values: list[str]) -> list[str]:
    """What FFmpeg's metadata filters received for each value, in one FFmpeg run: `metadata=mode=add` stores
    each as a frame tag `fz<i>x` and `metadata=mode=print` writes the tags out."""
    out = tmp_path / "printed.txt"
    stream = ffmpeg.input("color=c=black:s=8x8:rate=25:d=0.04", f="lavfi")
    for index, value in enumerate(values):
        stream = stream.filter("metadata", mode="add", key=f"fz{index}x", value=value)
    stream = stream.filter("metadata", mode="print", file=filter_path(out))
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", *stream.output("-", f="null").get_args()],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    printed = out.read_bytes().decode()  # bytes: read_text would turn \r into \n
    received = []
    for index in range(len(values)):
        rest = printed.split(f"\nfz{index}x=", 1)[1]
        end = f"\nfz{index + 1}x=" if index + 1 < len(values) else None
        received.append(rest.split(end, 1)[0] if end else rest.removesuffix("\n"))
    return received


@examples(database=None, max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(FILTER_TEXT, min_size=1, max_size=8))
def test_every_accepted_value_reaches_the_real_ffmpeg_exactly(tmp_path, texts):
    """The round trip of tests/jobs/test_filtergraph.py, through ffmpeg-python's escaping and FFmpeg's two
    parsing levels, for up to 8 values per FFmpeg run."""
    accepted = []
    for text in texts:
        try:
            accepted.append(filter_value(text))
        except FilterValueError:
            continue
    assume(accepted)
    assert _received_by_ffmpeg(tmp_path, accepted) == accepted
