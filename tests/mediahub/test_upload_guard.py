"""The early-refusal layer on its own: which requests it looks at, and how it cuts a body off at the limit."""

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections

from mediahub.errors import TooLarge
from mediahub.upload_guard import UploadGuard, UploadRoute

LIMIT = 1000


class Inner:
    """An app that reads the whole body, then answers 201 with the number of bytes it read."""

    def __init__(self):
        self.read = 0
        self.messages = []

    async def __call__(self, scope, receive, send):
        while True:
            message = await receive()
            self.messages.append(message["type"])
            if message["type"] == "http.disconnect":
                return
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": str(self.read).encode()})


def guard(inner) -> UploadGuard:
    routes = [UploadRoute("/api/v1/assets"), UploadRoute("/api/v1/uploads/", methods=frozenset({"POST", "PATCH"}))]
    return UploadGuard(inner, routes=routes, limit=lambda: LIMIT, too_large=lambda: TooLarge("Too big.", code="big"))


def scope(path: str, method: str = "POST", headers=()) -> dict:
    return {"type": "http", "method": method, "path": path, "headers": list(headers), "client": ("127.0.0.1", 5)}


def body(*sizes: int):
    """receive() handing out chunks of the given sizes, and how many were taken."""
    chunks = list(sizes)
    taken = []

    async def receive():
        size = chunks.pop(0)
        taken.append(size)
        return {"type": "http.request", "body": b"x" * size, "more_body": bool(chunks)}

    return receive, taken


async def run(app, scope_, receive) -> list[dict]:
    sent = []

    async def send(message):
        sent.append(message)

    await app(scope_, receive, send)
    return sent


@pytest.mark.parametrize(
    "path, method",
    [("/api/v1/jobs", "POST"), ("/api/v1/assets", "GET"), ("/api/v1/assets/ast_1", "POST"), ("/api/v1/up", "POST")],
)
async def test_other_requests_pass_through_untouched(path, method):
    inner = Inner()
    receive, taken = body(600, 600)

    sent = await run(guard(inner), scope(path, method), receive)

    assert (sent[0]["status"], sent[1]["body"]) == (201, b"1200")  # no credentials asked, no limit applied
    assert taken == [600, 600]


@pytest.fixture
def alice_key(alice, transactional_db):
    yield alice[1]
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


def authorized(path: str, key: str, method: str = "POST", length: int | None = None) -> dict:
    headers = [(b"authorization", f"Token {key}".encode())]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return scope(path, method, headers)


@pytest.mark.parametrize("path, method", [("/api/v1/assets", "POST"), ("/api/v1/uploads/upl_1", "PATCH")])
async def test_a_body_within_the_limit_reaches_the_app_whole(alice_key, path, method):
    inner = Inner()
    receive, taken = body(400, 400, 200)

    sent = await run(guard(inner), authorized(path, alice_key, method, length=LIMIT), receive)

    assert (sent[0]["status"], sent[1]["body"]) == (201, b"1000")
    assert taken == [400, 400, 200]


async def test_a_body_past_the_limit_is_cut_off_and_answered_413(alice_key):
    inner = Inner()
    receive, taken = body(400, 400, 400, 400, 400)

    sent = await run(guard(inner), authorized("/api/v1/assets", alice_key), receive)

    assert taken == [400, 400, 400]  # nothing read past the chunk that crossed the limit
    assert inner.messages == ["http.request", "http.request", "http.disconnect"]
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert sent[1]["body"] == b'{"error":{"code":"big","message":"Too big."}}'


async def test_a_declared_length_past_the_limit_is_answered_without_reading(alice_key):
    inner = Inner()
    receive, taken = body(10)

    sent = await run(guard(inner), authorized("/api/v1/assets", alice_key, length=LIMIT + 1), receive)

    assert sent[0]["status"] == 413
    assert taken == [] and inner.messages == []


async def test_an_upload_without_credentials_is_answered_without_reading(transactional_db):
    inner = Inner()
    receive, taken = body(10)

    sent = await run(guard(inner), scope("/api/v1/uploads/upl_1"), receive)
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)

    assert sent[0]["status"] == 401
    assert taken == [] and inner.messages == []
