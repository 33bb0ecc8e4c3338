"""OpenAI's Videos API (Sora 2): a multipart create, polling, and an authenticated content endpoint.

OpenAI retired Sora on its own endpoint in 2026; the adapter stays for OpenAI-compatible video gateways, set as
the base URL without the `/v1` suffix. An endpoint that no longer serves a model answers model_retired."""

import base64
import mimetypes
import re
from pathlib import Path

import httpx

from keys.provider_checks import CheckResult
from providers.adapters.base import (
    CONTENT_POLICY,
    INVALID_REQUEST,
    MODEL_RETIRED,
    PROVIDER_ERROR,
    QUOTA_EXCEEDED,
    Adapter,
    ModelInfo,
    Poll,
    ProviderError,
    Request,
    Submitted,
)
from providers.adapters.http import answer, check_content_type, check_result, json_object, send, status_code_error

STATES = {"queued": "queued", "in_progress": "running", "completed": "succeeded", "failed": "failed"}
SIZES = {
    ("16:9", "720p"): "1280x720",
    ("9:16", "720p"): "720x1280",
    ("16:9", "1024p"): "1792x1024",
    ("9:16", "1024p"): "1024x1792",
}
QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached"}
MODERATION_CODES = {"moderation_blocked", "content_policy_violation"}
MODERATION = re.compile(r"moderation|content policy|safety system", re.IGNORECASE)
RETIRED = re.compile(r"deprecat|retired", re.IGNORECASE)


class OpenAIVideos(Adapter):
    name = "openai"
    label = "OpenAI Videos (Sora)"
    default_base_url = "https://api.openai.com"
    default_model = "sora-2"
    # USD per second from OpenAI's video pricing at 720p: sora-2 $0.10, sora-2-pro $0.30 (its 1024p sizes are
    # billed $0.50 by OpenAI). Sizes and seconds as the API reference lists them.
    models = {
        "sora-2": ModelInfo(
            id="sora-2",
            label="Sora 2",
            durations=(4, 8, 12),
            aspect_ratios=("16:9", "9:16"),
            resolutions=("720p",),
            price_per_second=0.10,
            default_duration=4,
        ),
        "sora-2-pro": ModelInfo(
            id="sora-2-pro",
            label="Sora 2 Pro",
            durations=(4, 8, 12),
            aspect_ratios=("16:9", "9:16"),
            resolutions=("720p", "1024p"),
            price_per_second=0.30,
            default_duration=4,
        ),
    }

    def create(self, request: Request, credential: dict[str, str]) -> Submitted:
        resolution = request.resolution or "720p"
        size = SIZES.get((request.aspect_ratio, resolution))
        if size is None or resolution not in self.models[request.model].resolutions:
            raise ProviderError(
                INVALID_REQUEST, f"{request.model} makes no {request.aspect_ratio} video at {resolution}."
            )
        fields = {"model": request.model, "prompt": request.prompt, "seconds": str(request.duration), "size": size}
        # (None, value) parts keep the body multipart/form-data even without an image, as the API documents.
        parts: dict[str, tuple] = {name: (None, value) for name, value in fields.items()}
        if request.image_path or request.image_data_uri:
            parts["input_reference"] = _image_part(request)
        with self.client(timeout=120) as client:
            response = send(client, "POST", "/v1/videos", files=parts, headers=_auth(credential))
        video = _answer(response)
        return Submitted(task_id=str(video["id"]), poll_after=_poll_after(response))

    def poll(self, task_id: str, model: str, credential: dict[str, str]) -> Poll:
        with self.client() as client:
            response = send(client, "GET", f"/v1/videos/{task_id}", headers=_auth(credential))
        video = _answer(response)
        poll = Poll(
            state=STATES.get(video.get("status"), "running"),
            progress=video.get("progress"),
            poll_after=_poll_after(response),
        )
        if poll.state == "succeeded":
            poll.video_url = f"{self.base_url}/v1/videos/{task_id}/content"
        elif poll.state == "failed":
            poll.error = _failure(video.get("error") or {})
        return poll

    def cancel(self, task_id: str, model: str, credential: dict[str, str]) -> None:
        """Deleting is the API's only way to drop a video job."""
        with self.client() as client:
            response = send(client, "DELETE", f"/v1/videos/{task_id}", headers=_auth(credential))
        if response.status_code != 404:
            _answer(response)

    def download(self, poll: Poll, credential: dict[str, str], dest: Path, *, max_bytes: int) -> str:
        """The content endpoint wants the API key, so it is fetched through our own client and never from
        anywhere but this provider's base URL."""
        if not poll.video_url.startswith(f"{self.base_url}/v1/videos/"):
            raise ProviderError(PROVIDER_ERROR, "The video's address is not on this provider.")
        with self.client(timeout=120) as client:
            try:
                with client.stream("GET", poll.video_url, headers=_auth(credential)) as response:
                    if not response.is_success:
                        response.read()
                        raise _download_error(response)
                    content_type = response.headers.get("content-type", "").split(";")[0].strip()
                    check_content_type(content_type)
                    _write(response, dest, max_bytes)
            except httpx.HTTPError as exc:
                raise ProviderError(PROVIDER_ERROR, f"Downloading the video failed ({type(exc).__name__}).") from None
        return content_type

    def validate(self, credential: dict[str, str]) -> CheckResult:
        """GET /v1/models: free, and it needs a working key."""
        try:
            with self.client() as client:
                response = send(client, "GET", "/v1/models", headers=_auth(credential))
            _answer(response)
        except ProviderError as exc:
            return check_result(exc, "The provider")
        return CheckResult("active")


def _auth(credential: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential.get('secret', '')}"}


def _image_part(request: Request) -> tuple[str, bytes, str]:
    if request.image_path:
        path = request.image_path
        return path.name, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "image/png"
    header, _, data = request.image_data_uri.partition(",")
    mime = header.removeprefix("data:").split(";")[0] or "image/png"
    return "start" + (mimetypes.guess_extension(mime) or ".png"), base64.b64decode(data), mime


def _poll_after(response: httpx.Response) -> float | None:
    """OpenAI's own pacing hint (the SDK's poll helper honours it too)."""
    try:
        return max(0.0, float(response.headers["openai-poll-after-ms"]) / 1000)
    except (KeyError, ValueError):
        return None


def _answer(response: httpx.Response) -> dict:
    return answer(response, _error, "The provider")


def _error(response: httpx.Response) -> ProviderError:
    """OpenAI's {"error": {"message", "type", "code"}}: an exhausted quota also answers 429, and a retired or
    unknown model 404 model_not_found."""
    detail = (json_object(response) or {}).get("error")
    detail = detail if isinstance(detail, dict) else {}
    message = str(detail.get("message") or "")
    kinds = {str(detail.get("code") or ""), str(detail.get("type") or "")}
    error = status_code_error(response, message)
    if kinds & QUOTA_CODES:
        code = QUOTA_EXCEEDED
    elif kinds & MODERATION_CODES:
        code = CONTENT_POLICY
    elif "model_not_found" in kinds or (400 <= response.status_code < 500 and RETIRED.search(message)):
        code = MODEL_RETIRED
        message = f"This endpoint no longer serves the model (retired or not found): {message}"
    else:
        return error
    return ProviderError(code, message, retry_after=error.retry_after, http_status=error.http_status)


def _failure(error: dict) -> ProviderError:
    message = str(error.get("message") or "The video failed.")
    blocked = error.get("code") in MODERATION_CODES or MODERATION.search(message)
    return ProviderError(CONTENT_POLICY if blocked else PROVIDER_ERROR, message)


def _download_error(response: httpx.Response) -> ProviderError:
    """A key, rate or server problem is what it says; anything else means the content is gone (it expires)."""
    if response.status_code in (401, 429) or response.status_code >= 500:
        return _error(response)
    return ProviderError(
        PROVIDER_ERROR,
        f"The video is no longer available (HTTP {response.status_code}).",
        http_status=response.status_code,
    )


def _write(response: httpx.Response, dest: Path, max_bytes: int) -> None:
    size = 0
    with open(dest, "wb") as fh:
        for chunk in response.iter_bytes(1024 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise ProviderError(PROVIDER_ERROR, f"The video is larger than the {max_bytes / 2**20:g} MB limit.")
            fh.write(chunk)
