"""An imitation of Kling's API: POST /v1/videos/text2video and /v1/videos/image2video, GET /v1/videos/<kind>/<id>,
GET /account/costs, and finished videos on a "CDN" path (/files/<id>.mp4, no token needed). Every API request must
carry a JWT signed (HS256) with the secret key, iss = the access key, nbf past and exp future; every answer is
Kling's envelope {code, message, request_id, data}."""

import base64
import hashlib
import hmac
import json
import re
import time
import uuid

from tests.providers.fakes.base import FakeProvider, Reply, Request

TASK = re.compile(r"^/v1/videos/(?P<kind>text2video|image2video)/(?P<id>\d+)$")
FILE = re.compile(r"^/files/(?P<id>\d+)\.mp4$")
MODELS = {"kling-v2-5-turbo", "kling-v2-6", "kling-v2-1", "kling-v2-1-master"}
TEXT_MODELS = MODELS - {"kling-v2-1"}
RISK = "Failure to pass the risk control system"


def envelope(code: int = 0, message: str = "SUCCEED", data: dict | None = None) -> dict:
    return {"code": code, "message": message, "request_id": str(uuid.uuid4()), "data": data}


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class FakeKling(FakeProvider):
    access_key = "AK-test-0123456789"
    secret_key = "SK-test-abcdefghij"

    def __init__(self, video):
        super().__init__(video)
        pack = {"resource_pack_name": "Video pack", "resource_pack_id": "p1", "resource_pack_type": "decreasing_total"}
        self.packs = [pack | {"total_quantity": 200.0, "remaining_quantity": 117.5, "status": "online"}]
        self.next_id = 860000000000000000

    def handle(self, request: Request) -> Reply:
        file = FILE.match(request.path)
        if request.method == "GET" and file:
            return self.video_reply() if file["id"] in self.tasks else Reply(404, b"Not Found")
        refusal = self.refuse_token(request.header("Authorization"))
        if refusal:
            return Reply(401, envelope(*refusal))
        if request.method == "POST" and request.path in ("/v1/videos/text2video", "/v1/videos/image2video"):
            return self.create(request.path.rsplit("/", 1)[1], request.json())
        if request.method == "GET" and request.path == "/account/costs":
            if not {"start_time", "end_time"} <= request.query.keys():
                return Reply(400, envelope(1201, "start_time and end_time are required"))
            return Reply(200, envelope(data={"code": 0, "msg": "", "resource_pack_subscribe_infos": self.packs}))
        match = TASK.match(request.path)
        if request.method != "GET" or not match or self.tasks.get(match["id"], {}).get("kind") != match["kind"]:
            return Reply(404, envelope(1203, "Task not found"))
        return self.poll(match["id"])

    def refuse_token(self, authorization: str) -> tuple[int, str] | None:
        """Kling's 1000–1004: None when the JWT is good."""
        if not authorization.startswith("Bearer "):
            return 1001, "Authorization is empty"
        try:
            header, claims, signature = authorization.removeprefix("Bearer ").split(".")
            head, body = json.loads(unb64(header)), json.loads(unb64(claims))
        except ValueError:
            return 1002, "Authorization is invalid"
        expected = hmac.new(self.secret_key.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
        if head != {"alg": "HS256", "typ": "JWT"} or not hmac.compare_digest(unb64(signature), expected):
            return 1000, "Authentication failed"
        if body.get("iss") != self.access_key:
            return 1002, "Authorization is invalid"
        if body.get("nbf", 0) > time.time():
            return 1003, "Authorization is not yet valid"
        if body.get("exp", 0) <= time.time():
            return 1004, "Authorization has expired"
        return None

    def create(self, kind: str, body: dict) -> Reply:
        image = kind == "image2video"
        if body.get("model_name") not in (MODELS if image else TEXT_MODELS):
            return Reply(404, envelope(1203, "model is not supported"))
        if body.get("duration") not in ("5", "10") or body.get("mode", "std") not in ("std", "pro"):
            return Reply(400, envelope(1201, "duration or mode value is invalid"))
        if image and (not body.get("image") or str(body["image"]).startswith("data:") or "aspect_ratio" in body):
            return Reply(400, envelope(1201, "image is invalid"))
        if not image and (not body.get("prompt") or body.get("aspect_ratio") not in ("16:9", "9:16", "1:1")):
            return Reply(400, envelope(1201, "prompt or aspect_ratio is invalid"))
        if "forbidden" in body.get("prompt", ""):
            return Reply(400, envelope(1301, "Trigger the content security policy"))
        self.next_id += 1
        task_id = str(self.next_id)
        self.tasks[task_id] = {"task_id": task_id, "task_status": "submitted", "kind": kind, "body": body,
                               "created_at": 1722769557708, "updated_at": 1722769557708}  # fmt: skip
        return Reply(200, envelope(data=self.public(self.tasks[task_id])))

    def poll(self, task_id: str) -> Reply:
        task = self.tasks[task_id]
        seen = self.polls_seen(task_id)
        running = task["task_status"] in ("submitted", "processing")
        if running and seen <= self.polls_to_finish:
            task["task_status"] = "processing"
        elif running:
            if self.outcome == "succeeded":
                video = {"id": str(uuid.uuid4()), "url": f"{self.url}/files/{task_id}.mp4", "duration": "5"}
                task |= {"task_status": "succeed", "task_status_msg": "", "task_result": {"videos": [video]}}
            elif self.outcome == "content_policy":
                task |= {"task_status": "failed", "task_status_msg": RISK}
            else:
                task |= {"task_status": "failed", "task_status_msg": "Internal error, please try again later"}
        return Reply(200, envelope(data=self.public(task)))

    @staticmethod
    def public(task: dict) -> dict:
        return {key: value for key, value in task.items() if key not in ("polls", "body", "kind")}
