"""An imitation of OpenAI's Videos API: multipart POST /v1/videos, GET /v1/videos/{id}, its /content, DELETE,
and GET /v1/models, with OpenAI's error bodies. `created` holds each create's form fields as parsed.

Also POST /v1/audio/transcriptions (multipart: file, model, response_format, timestamp_granularities[]): it
answers `transcription` (verbose_json) to a word-timestamped verbose_json request; `transcribed` holds each
request's form fields."""

import re
import uuid
from email.parser import BytesParser
from email.policy import HTTP

from tests.providers.fakes.base import FakeProvider, Reply, Request

VIDEO = re.compile(r"^/v1/videos/(?P<id>[^/]+)(?P<content>/content)?$")


def openai_error(status: int, message: str, code: str | None, kind: str = "invalid_request_error") -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})


class FakeOpenAI(FakeProvider):
    token = "sk-test-openai"

    def __init__(self, video):
        super().__init__(video)
        self.poll_after_ms: int | None = None  # sent as openai-poll-after-ms when set
        self.created: list[dict] = []
        self.transcribed: list[dict] = []
        self.transcription: dict = {
            "task": "transcribe",
            "language": "english",
            "duration": 2.0,
            "text": "Hello, world.",
            "words": [{"word": "Hello", "start": 0.1, "end": 0.5}, {"word": "world", "start": 0.6, "end": 1.0}],
            "segments": [{"id": 0, "start": 0.0, "end": 1.2, "text": " Hello, world.", "avg_logprob": -0.1}],
        }

    def handle(self, request: Request) -> Reply:
        if request.header("Authorization") != f"Bearer {self.token}":
            return openai_error(
                401,
                "Incorrect API key provided: sk-***. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_api_key",
            )
        if request.method == "POST" and request.path == "/v1/videos":
            return self.create(request)
        if request.method == "POST" and request.path == "/v1/audio/transcriptions":
            return self.transcribe(request)
        if request.method == "GET" and request.path == "/v1/models":
            return Reply(200, {"object": "list", "data": [{"id": "sora-2", "object": "model", "owned_by": "system"}]})
        match = VIDEO.match(request.path)
        if not match or match["id"] not in self.tasks:
            return openai_error(404, "Video not found.", None)
        video_id = match["id"]
        if request.method == "DELETE":
            del self.tasks[video_id]
            return Reply(200, {"id": video_id, "object": "video.deleted", "deleted": True})
        if match["content"]:
            if self.tasks[video_id]["status"] != "completed":
                return openai_error(404, "Video content is not available.", None)
            return self.video_reply()
        return self.poll(video_id)

    def create(self, request: Request) -> Reply:
        fields = self.form_fields(request)
        video_id = f"video_{uuid.uuid4().hex}"
        self.created.append(fields)
        self.tasks[video_id] = {
            "id": video_id,
            "object": "video",
            "status": "queued",
            "progress": 0,
            "model": fields.get("model", "sora-2"),
            "seconds": fields.get("seconds", "4"),
            "size": fields.get("size", "720x1280"),
            "error": None,
            "created_at": 1767225600,
        }
        return Reply(200, dict(self.tasks[video_id]), self.hint())

    def transcribe(self, request: Request) -> Reply:
        fields = self.form_fields(request)
        self.transcribed.append(fields)
        if "file" not in fields or not isinstance(fields["file"], dict):
            return openai_error(400, "You must provide a file.", None)
        if fields.get("response_format") != "verbose_json" or fields.get("timestamp_granularities[]") != "word":
            return Reply(200, {"text": self.transcription["text"]})  # the API's plain answer: no timings
        return Reply(200, self.transcription)

    def poll(self, video_id: str) -> Reply:
        task = self.tasks[video_id]
        seen = self.polls_seen(video_id)
        if task["status"] in ("completed", "failed"):
            return Reply(200, self.public(task), self.hint())
        if seen <= self.polls_to_finish:
            task |= {"status": "in_progress", "progress": round(100 * seen / (self.polls_to_finish + 1))}
        elif self.outcome == "succeeded":
            task |= {"status": "completed", "progress": 100}
        elif self.outcome == "content_policy":
            blocked = {"code": "moderation_blocked", "message": "Your request was blocked by our moderation system."}
            task |= {"status": "failed", "error": blocked}
        else:
            task |= {"status": "failed", "error": {"code": "internal_error", "message": "Video generation failed."}}
        return Reply(200, self.public(task), self.hint())

    @staticmethod
    def public(task: dict) -> dict:
        return {key: value for key, value in task.items() if key != "polls"}

    def hint(self) -> dict:
        return {} if self.poll_after_ms is None else {"openai-poll-after-ms": str(self.poll_after_ms)}

    @staticmethod
    def form_fields(request: Request) -> dict:
        """multipart/form-data → {name: text} and, for file parts, {name: {filename, content_type, data}}."""
        head = b"Content-Type: " + request.header("Content-Type").encode() + b"\r\n\r\n"
        message = BytesParser(policy=HTTP).parsebytes(head + request.body)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            if part.get_filename() is None:
                fields[name] = data.decode()
            else:
                fields[name] = {"filename": part.get_filename(), "content_type": part.get_content_type(), "data": data}
        return fields
