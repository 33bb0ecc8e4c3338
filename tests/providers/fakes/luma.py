"""An imitation of Luma's Dream Machine API: POST /dream-machine/v1/generations/video, GET and DELETE
/dream-machine/v1/generations/{id}, GET /dream-machine/v1/credits, and the finished videos on a "CDN" path
(/files/<id>.mp4, no key needed). Errors are Luma's {"detail": "..."}."""

import re
import uuid

from tests.providers.fakes.base import FakeProvider, Reply, Request

API = "/dream-machine/v1"
GENERATION = re.compile(rf"^{API}/generations/(?P<id>[0-9a-f-]+)$")
FILE = re.compile(r"^/files/(?P<id>[0-9a-f-]+)\.mp4$")
MODERATED = "Prompt not allowed because advanced moderation failed"


class FakeLuma(FakeProvider):
    token = "luma-test-key"

    def __init__(self, video):
        super().__init__(video)
        self.credit_balance = 2500.0  # USD cents

    def handle(self, request: Request) -> Reply:
        file = FILE.match(request.path)
        if request.method == "GET" and file:
            return self.video_reply() if file["id"] in self.tasks else Reply(404, b"Not Found")
        if request.header("Authorization") != f"Bearer {self.token}":
            return Reply(401, {"detail": "Invalid API key provided"})
        if request.method == "POST" and request.path == f"{API}/generations/video":
            return self.create(request.json())
        if request.method == "GET" and request.path == f"{API}/credits":
            return Reply(200, {"credit_balance": self.credit_balance})
        match = GENERATION.match(request.path)
        if not match or match["id"] not in self.tasks:
            return Reply(404, {"detail": "Generation not found"})
        if request.method == "DELETE":
            del self.tasks[match["id"]]
            return Reply(204)
        return self.poll(match["id"])

    def create(self, body: dict) -> Reply:
        if not body.get("prompt") or body.get("model") not in ("ray-2", "ray-flash-2"):
            return Reply(400, {"detail": [{"loc": ["body", "model"], "msg": "Input should be 'ray-2'"}]})
        generation_id = str(uuid.uuid4())
        self.tasks[generation_id] = {
            "id": generation_id,
            "generation_type": "video",
            "state": "queued",
            "failure_reason": None,
            "created_at": "2026-01-01T00:00:00Z",
            "assets": None,
            "model": body["model"],
            "request": body,
        }
        return Reply(201, self.public(self.tasks[generation_id]))

    def poll(self, generation_id: str) -> Reply:
        task = self.tasks[generation_id]
        seen = self.polls_seen(generation_id)
        if task["state"] in ("completed", "failed"):
            return Reply(200, self.public(task))
        if seen <= self.polls_to_finish:
            task["state"] = "dreaming"
        elif self.outcome == "succeeded":
            video = f"{self.url}/files/{generation_id}.mp4"
            task |= {"state": "completed", "assets": {"video": video, "image": f"{self.url}/files/thumb.jpg"}}
        elif self.outcome == "content_policy":
            task |= {"state": "failed", "failure_reason": MODERATED}
        else:
            task |= {"state": "failed", "failure_reason": "Internal server error during generation"}
        return Reply(200, self.public(task))

    @staticmethod
    def public(task: dict) -> dict:
        return {key: value for key, value in task.items() if key != "polls"}
