"""An imitation of Runway's API: POST /v1/text_to_video and /v1/image_to_video, GET and DELETE /v1/tasks/{id},
GET /v1/organization, and finished videos on a signed-URL stand-in (/files/<id>.mp4, no key needed). Every API
request must carry the bearer secret and the exact X-Runway-Version; errors are Runway's {"error": "..."}."""

import re
import uuid

from tests.providers.fakes.base import FakeProvider, Reply, Request

VERSION = "2024-11-06"
TASK = re.compile(r"^/v1/tasks/(?P<id>[0-9a-f-]+)$")
FILE = re.compile(r"^/files/(?P<id>[0-9a-f-]+)\.mp4$")
# Per model: endpoints, ratios and durations as Runway's API reference lists them.
TEXT_RATIOS = {"gen4.5": {"1280:720", "720:1280"}}
IMAGE_RATIOS = {"gen4.5": {"1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672"}}
IMAGE_RATIOS["gen4_turbo"] = IMAGE_RATIOS["gen4.5"]
for veo in ("veo3.1", "veo3.1_fast"):
    TEXT_RATIOS[veo] = IMAGE_RATIOS[veo] = {"1280:720", "720:1280", "1080:1920", "1920:1080"}
DURATIONS = {"gen4.5": set(range(2, 11)), "gen4_turbo": {5, 10}, "veo3.1": {4, 6, 8}, "veo3.1_fast": {4, 6, 8}}


class FakeRunway(FakeProvider):
    token = "key_" + "ab" * 64

    def __init__(self, video):
        super().__init__(video)
        self.credit_balance = 1200

    def handle(self, request: Request) -> Reply:
        file = FILE.match(request.path)
        if request.method == "GET" and file:
            return self.video_reply() if file["id"] in self.tasks else Reply(404, b"Not Found")
        if request.header("Authorization") != f"Bearer {self.token}":
            return Reply(401, {"error": "Invalid API secret"})
        if request.header("X-Runway-Version") != VERSION:
            return Reply(400, {"error": "Invalid or missing X-Runway-Version header"})
        if request.method == "POST" and request.path in ("/v1/text_to_video", "/v1/image_to_video"):
            return self.create(request.path.endswith("image_to_video"), request.json())
        if request.method == "GET" and request.path == "/v1/organization":
            tier = {"maxMonthlyCreditSpend": 10000, "models": {}}
            return Reply(200, {"creditBalance": self.credit_balance, "tier": tier, "usage": {"models": {}}})
        match = TASK.match(request.path)
        if not match or match["id"] not in self.tasks:
            return Reply(404, {"error": "Task not found"})
        if request.method == "DELETE":
            task = self.tasks[match["id"]]
            task["status"] = "CANCELLED" if task["status"] in ("PENDING", "THROTTLED", "RUNNING") else "DELETED"
            return Reply(204)
        return self.poll(match["id"])

    def create(self, from_image: bool, body: dict) -> Reply:
        ratios = (IMAGE_RATIOS if from_image else TEXT_RATIOS).get(body.get("model"))
        issues = []
        if ratios is None:
            issues.append("model: this model is not available at this endpoint")
        elif body.get("ratio") not in ratios:
            issues.append(f"ratio: must be one of {', '.join(sorted(ratios))}")
        if ratios is not None and body.get("duration") not in DURATIONS[body["model"]]:
            issues.append("duration: not a duration this model makes")
        if from_image and not str(body.get("promptImage", "")).startswith(("https://", "data:image/")):
            issues.append("promptImage: Invalid data URI.")
        if not from_image and not body.get("promptText"):
            issues.append("promptText: Required")
        if issues:
            return Reply(400, {"error": "Validation of body failed", "issues": [{"message": m} for m in issues]})
        task_id = str(uuid.uuid4())
        self.tasks[task_id] = {"id": task_id, "status": "PENDING", "createdAt": "2026-01-01T00:00:00Z", "body": body}
        return Reply(200, {"id": task_id})

    def poll(self, task_id: str) -> Reply:
        task = self.tasks[task_id]
        seen = self.polls_seen(task_id)
        if task["status"] == "PENDING" and seen <= self.polls_to_finish:
            return Reply(200, self.public(task) | {"status": "RUNNING", "progress": seen / (self.polls_to_finish + 1)})
        if task["status"] == "PENDING":
            if self.outcome == "content_policy" or "forbidden" in task["body"].get("promptText", ""):
                task |= {"status": "FAILED", "failure": "Prompt flagged", "failureCode": "SAFETY.INPUT.TEXT"}
            elif self.outcome == "succeeded":
                task |= {"status": "SUCCEEDED", "output": [f"{self.url}/files/{task_id}.mp4"]}
            else:
                task |= {"status": "FAILED", "failure": "An unexpected error occurred.", "failureCode": "INTERNAL"}
        if task["status"] == "DELETED":
            return Reply(404, {"error": "Task not found"})
        return Reply(200, self.public(task))

    @staticmethod
    def public(task: dict) -> dict:
        return {key: value for key, value in task.items() if key not in ("polls", "body")}
