"""A base for local HTTP servers that imitate AI video providers' documented APIs, on 127.0.0.1.

A subclass routes requests in `handle(request)` and returns a `Reply`. Tests steer it through plain attributes:
- `fail_next`: replies answered (and consumed) before any routing, e.g. `Reply(429, {...}, {"Retry-After": "2"})`;
- `polls_to_finish`: how many polls a task answers "running" before it finishes;
- `outcome`: how tasks end: "succeeded", "content_policy" or "failed";
- `expire_downloads`: the video URL answers 403 (expired) until set back to False.
Every request is recorded in `requests` (method, path, headers, query, body bytes)."""

import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


@dataclass
class Reply:
    status: int = 200
    body: dict | list | bytes | None = None
    headers: dict = field(default_factory=dict)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client that hangs up mid-reply (a download stopped at its size limit) is not a server error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeProvider:
    def __init__(self, video: Path):
        self.video = video  # the bytes every finished task hands out
        self.requests: list[Request] = []
        self.fail_next: list[Reply] = []
        self.polls_to_finish = 1
        self.outcome = "succeeded"
        self.expire_downloads = False
        self.tasks: dict[str, dict] = {}
        self.server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()

    # --- subclasses ---------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    # --- helpers for subclasses ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def polls_seen(self, task_id: str) -> int:
        task = self.tasks[task_id]
        task["polls"] = task.get("polls", 0) + 1
        return task["polls"]

    def video_reply(self) -> Reply:
        if self.expire_downloads:
            return Reply(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                         {"Content-Type": "application/xml"})  # fmt: skip
        return Reply(200, self.video.read_bytes(), {"Content-Type": "video/mp4"})

    # --- server -------------------------------------------------------------------------------------------

    def start(self) -> "FakeProvider":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length", 0) or 0)
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers),
                                  self.rfile.read(length))  # fmt: skip
                with fake.lock:
                    fake.requests.append(request)
                    reply = fake.fail_next.pop(0) if fake.fail_next else None
                if reply is None:
                    reply = fake.handle(request)
                body = reply.body
                headers = dict(reply.headers)
                if not isinstance(body, bytes):
                    body = b"" if body is None else json.dumps(body).encode()
                    headers.setdefault("Content-Type", "application/json")
                self.send_response(reply.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def calls(self, method: str, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]
