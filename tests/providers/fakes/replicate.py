"""An imitation of Replicate's HTTP API: POST /v1/models/{owner}/{name}/predictions, GET /v1/predictions/{id},
POST /v1/predictions/{id}/cancel, GET /v1/account, and outputs on a delivery path (/files/<id>.mp4, no token
needed). Errors are RFC 7807 problem details. `models` lists the models it serves."""

import re
import uuid

from tests.providers.fakes.base import FakeProvider, Reply, Request

CREATE = re.compile(r"^/v1/models/(?P<model>[\w.-]+/[\w.-]+)/predictions$")
PREDICTION = re.compile(r"^/v1/predictions/(?P<id>\w+)(?P<cancel>/cancel)?$")
FILE = re.compile(r"^/files/(?P<id>\w+)\.mp4$")
FLAGGED = "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"


def problem(status: int, title: str, detail: str) -> Reply:
    return Reply(
        status, {"title": title, "detail": detail, "status": status}, {"Content-Type": "application/problem+json"}
    )


class FakeReplicate(FakeProvider):
    token = "r8_test_token"

    def __init__(self, video):
        super().__init__(video)
        self.models = {"minimax/video-01", "kwaivgi/kling-v2.1", "google/veo-3"}
        self.output_list = False  # some models answer a list of URLs

    def handle(self, request: Request) -> Reply:
        file = FILE.match(request.path)
        if request.method == "GET" and file:
            return self.video_reply() if file["id"] in self.tasks else Reply(404, b"Not Found")
        if request.header("Authorization") != f"Bearer {self.token}":
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        if request.method == "GET" and request.path == "/v1/account":
            return Reply(200, {"type": "user", "username": "alice", "name": "Alice", "github_url": None})
        create = CREATE.match(request.path)
        if request.method == "POST" and create:
            return self.create(create["model"], request.json())
        match = PREDICTION.match(request.path)
        if not match or match["id"] not in self.tasks:
            return problem(404, "Not found", "The requested resource could not be found.")
        if match["cancel"]:
            if self.tasks[match["id"]]["status"] in ("starting", "processing"):
                self.tasks[match["id"]]["status"] = "canceled"
            return Reply(200, self.public(self.tasks[match["id"]]))
        return self.poll(match["id"])

    def create(self, model: str, body: dict) -> Reply:
        if model not in self.models:
            return problem(404, "Not found", "The requested resource could not be found.")
        if not isinstance(body.get("input"), dict) or not body["input"].get("prompt"):
            return problem(422, "Input validation failed", "- input: prompt is required")
        prediction_id = uuid.uuid4().hex[:26]
        self.tasks[prediction_id] = {
            "id": prediction_id,
            "model": model,
            "version": "hidden",
            "input": body["input"],
            "logs": "",
            "output": None,
            "error": None,
            "status": "starting",
            "created_at": "2026-01-01T00:00:00.000Z",
            "urls": {
                "get": f"{self.url}/v1/predictions/{prediction_id}",
                "cancel": f"{self.url}/v1/predictions/{prediction_id}/cancel",
            },
        }
        return Reply(201, self.public(self.tasks[prediction_id]))

    def poll(self, prediction_id: str) -> Reply:
        task = self.tasks[prediction_id]
        seen = self.polls_seen(prediction_id)
        if task["status"] in ("succeeded", "failed", "canceled"):
            return Reply(200, self.public(task))
        if seen <= self.polls_to_finish:
            task |= {"status": "processing", "logs": f"Generating… step {seen}"}
        elif self.outcome == "succeeded":
            url = f"{self.url}/files/{prediction_id}.mp4"
            task |= {"status": "succeeded", "output": [url] if self.output_list else url}
        elif self.outcome == "content_policy":
            task |= {"status": "failed", "error": FLAGGED}
        else:
            task |= {"status": "failed", "error": "Prediction failed: the model crashed."}
        return Reply(200, self.public(task))

    @staticmethod
    def public(task: dict) -> dict:
        return {key: value for key, value in task.items() if key != "polls"}
