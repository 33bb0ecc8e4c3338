"""Kling's API (api-singapore.klingai.com): text2video and image2video tasks under a short-lived HS256 JWT that we
sign with the account's secret key. Kling wraps every answer in {code, message, request_id, data}: code 0 is
success, and the other codes say more than the HTTP status does. Kling has no cancel endpoint."""

import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path

import httpx

from keys.provider_checks import CheckResult
from providers.adapters.base import (
    CONTENT_POLICY,
    INVALID_CREDENTIALS,
    INVALID_REQUEST,
    MODEL_RETIRED,
    PROVIDER_ERROR,
    QUOTA_EXCEEDED,
    RATE_LIMITED,
    Adapter,
    ModelInfo,
    Poll,
    ProviderError,
    Request,
    Submitted,
)
from providers.adapters.http import check_result, download_url, json_object, send, status_code_error

TOKEN_SECONDS = 1800
KINDS = ("text2video", "image2video")
STATES = {"submitted": "queued", "processing": "running", "succeed": "succeeded", "failed": "failed"}
MODES = {"720p": "std", "1080p": "pro"}  # Kling's modes are its resolutions
MODELESS = {"kling-v2-1-master"}  # master models take no mode
# Kling's error codes (its API reference, "Error codes"); 1203 is a missing resource, a model when creating.
CODES = {
    **dict.fromkeys((1000, 1001, 1002, 1003, 1004), INVALID_CREDENTIALS),  # signature, empty, invalid, nbf, exp
    **dict.fromkeys((1100, 1101, 1102), QUOTA_EXCEEDED),  # account exception, in arrears, resource pack used up
    1103: INVALID_CREDENTIALS,  # the key may not use this API or model
    **dict.fromkeys((1200, 1201, 1202, 1203), INVALID_REQUEST),
    **dict.fromkeys((1300, 1301), CONTENT_POLICY),  # platform policy, content security policy
    **dict.fromkeys((1302, 1303), RATE_LIMITED),  # request rate, concurrency of the resource pack
    1304: INVALID_CREDENTIALS,  # the key's IP allowlist refuses us
}
RISK = re.compile(r"risk|content security|sensitive|inappropriate|violat|moderat|policy", re.IGNORECASE)
ASPECT_RATIOS = ("16:9", "9:16", "1:1")


class Kling(Adapter):
    name = "kling"
    label = "Kling"
    default_base_url = "https://api-singapore.klingai.com"
    default_model = "kling-v2-5-turbo"
    # Models, modes and durations from Kling's API reference; a start image sets the frame's shape (image2video
    # has no aspect_ratio). USD per second from Kling's API price list ($0.14 a unit) in std mode (720p): v2.5
    # turbo and v2.6 (sound off) 1.5 units per 5 s, v2.1 2 units; pro mode (1080p) costs 5/3 to 7/4 of that.
    # v2.1 master 10 units per 5 s.
    models = {
        "kling-v2-5-turbo": ModelInfo(
            id="kling-v2-5-turbo",
            label="Kling 2.5 Turbo",
            durations=(5, 10),
            aspect_ratios=ASPECT_RATIOS,
            resolutions=("720p", "1080p"),
            price_per_second=0.042,
            default_duration=5,
        ),
        "kling-v2-6": ModelInfo(
            id="kling-v2-6",
            label="Kling 2.6",
            durations=(5, 10),
            aspect_ratios=ASPECT_RATIOS,
            resolutions=("720p", "1080p"),
            price_per_second=0.042,
            default_duration=5,
        ),
        "kling-v2-1": ModelInfo(
            id="kling-v2-1",
            label="Kling 2.1",
            durations=(5, 10),
            aspect_ratios=ASPECT_RATIOS,
            resolutions=("720p", "1080p"),
            image="required",
            text=False,
            price_per_second=0.056,
            default_duration=5,
        ),
        "kling-v2-1-master": ModelInfo(
            id="kling-v2-1-master",
            label="Kling 2.1 Master",
            durations=(5, 10),
            aspect_ratios=ASPECT_RATIOS,
            resolutions=("1080p",),
            price_per_second=0.28,
            default_duration=5,
        ),
    }

    def create(self, request: Request, credential: dict[str, str]) -> Submitted:
        info = self.models[request.model]
        resolution = request.resolution or info.resolutions[0]
        if resolution not in info.resolutions:
            raise ProviderError(INVALID_REQUEST, f"{request.model} makes no {resolution} video.")
        body: dict = {"model_name": request.model, "prompt": request.prompt, "duration": str(request.duration)}
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.model not in MODELESS:
            body["mode"] = MODES[resolution]
        image = _image(request)
        if image:
            body["image"] = image
        else:
            body["aspect_ratio"] = request.aspect_ratio
        kind = "image2video" if image else "text2video"
        with self.client(timeout=60) as client:
            response = send(client, "POST", f"/v1/videos/{kind}", json=body, headers=_headers(credential))
        data = _answer(response, creating=True)
        # The kind travels in our task id: a task is polled under the endpoint that made it.
        return Submitted(task_id=f"{kind}:{data['task_id']}")

    def poll(self, task_id: str, model: str, credential: dict[str, str]) -> Poll:
        kind, _, raw_id = task_id.rpartition(":")
        if kind not in KINDS:
            raise ProviderError(INVALID_REQUEST, "Not a Kling task id.")
        with self.client() as client:
            response = send(client, "GET", f"/v1/videos/{kind}/{raw_id}", headers=_headers(credential))
        task = _answer(response)
        poll = Poll(state=STATES.get(task.get("task_status"), "running"))
        if poll.state == "succeeded":
            videos = (task.get("task_result") or {}).get("videos") or [{}]
            poll.video_url = str(videos[0].get("url") or "")
            if not poll.video_url:
                poll.state, poll.error = "failed", ProviderError(PROVIDER_ERROR, "Kling finished without a video.")
        elif poll.state == "failed":
            reason = str(task.get("task_status_msg") or "The task failed.")
            poll.error = ProviderError(CONTENT_POLICY if RISK.search(reason) else PROVIDER_ERROR, reason)
        return poll

    def cancel(self, task_id: str, model: str, credential: dict[str, str]) -> None:
        """Kling's API has no way to cancel a task: it runs to its end (a failed task is not billed)."""

    def download(self, poll: Poll, credential: dict[str, str], dest: Path, *, max_bytes: int) -> str:
        """The video is a public CDN URL (kept 30 days): fetched without the token, SSRF-checked."""
        return download_url(poll.video_url, dest, max_bytes=max_bytes)

    def validate(self, credential: dict[str, str]) -> CheckResult:
        """GET /account/costs: free, needs a working key pair, and lists the prepaid resource packs. A key with
        packs, none of them live, is out of quota; a key with none pays as it goes."""
        now = int(time.time() * 1000)
        window = {"start_time": now - 365 * 86400 * 1000, "end_time": now}
        try:
            with self.client() as client:
                response = send(client, "GET", "/account/costs", params=window, headers=_headers(credential))
            packs = _answer(response).get("resource_pack_subscribe_infos") or []
        except ProviderError as exc:
            return check_result(exc, "Kling")
        live = [p for p in packs if p.get("status") == "online" and float(p.get("remaining_quantity") or 0) > 0]
        if packs and not live:
            return CheckResult("quota_exceeded", "Every Kling resource pack is used up or expired.")
        if not packs:
            return CheckResult("active", "No prepaid resource packs.")
        return CheckResult("active", f"{sum(float(p['remaining_quantity']) for p in live):g} units left.")


def api_token(access_key: str, secret_key: str, now: float | None = None) -> str:
    """Kling's JWT: HS256 over {iss: access key, exp: now + 30 min, nbf: now - 5 s}."""
    now = int(time.time() if now is None else now)
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iss": access_key, "exp": now + TOKEN_SECONDS, "nbf": now - 5}
    signing_input = f"{header}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
    signature = hmac.new(secret_key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _headers(credential: dict[str, str]) -> dict[str, str]:
    token = api_token(credential.get("access_key", ""), credential.get("secret_key", ""))
    return {"Authorization": f"Bearer {token}"}


def _image(request: Request) -> str:
    """The start image as bare base64: Kling refuses the data: prefix."""
    if request.image_data_uri:
        return request.image_data_uri.partition(",")[2]
    if request.image_path:
        return base64.b64encode(request.image_path.read_bytes()).decode()
    return ""


def _answer(response: httpx.Response, *, creating: bool = False) -> dict:
    body = json_object(response) or {}
    if not response.is_success or body.get("code") != 0:
        raise _error(response, body, creating=creating)
    return body.get("data") if isinstance(body.get("data"), dict) else {}


def _error(response: httpx.Response, body: dict, *, creating: bool) -> ProviderError:
    code = body.get("code")
    message = str(body.get("message") or "")
    error = status_code_error(response, message)
    if not isinstance(code, int):
        if response.is_success:
            return ProviderError(PROVIDER_ERROR, "Kling's answer was not its JSON envelope.", http_status=200)
        return error
    normalised = CODES.get(code, PROVIDER_ERROR if code >= 5000 or response.is_success else error.code)
    if code == 1203 and creating:
        normalised = MODEL_RETIRED
    return ProviderError(normalised, f"{message or 'Kling refused the request'} (code {code})",
                         retry_after=error.retry_after, http_status=error.http_status)  # fmt: skip
