"""Luma's Dream Machine API (Ray 2): create a video generation, poll its state, fetch the asset from Luma's CDN.

Text to video only: Luma takes a start frame solely as an image URL on a CDN (its docs: "currently this is the
only way to pass an image"), not as a data: URI or an upload, and MediaHub has no public URL for a user's image."""

import re
from pathlib import Path

import httpx

from keys.provider_checks import CheckResult
from providers.adapters.base import (
    CONTENT_POLICY,
    INVALID_REQUEST,
    PROVIDER_ERROR,
    QUOTA_EXCEEDED,
    Adapter,
    ModelInfo,
    Poll,
    ProviderError,
    Request,
    Submitted,
)
from providers.adapters.http import answer, check_result, download_url, json_object, send, status_code_error

API = "/dream-machine/v1"
STATES = {"queued": "queued", "dreaming": "running", "completed": "succeeded", "failed": "failed"}
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
RESOLUTIONS = ("720p", "540p", "1080p", "4k")
MODERATION = re.compile(r"moderat|content policy|(prompt|image) (is )?not allowed|nsfw|safety|inappropriate", re.I)
NO_CREDITS = re.compile(r"credit|balance|billing|payment", re.IGNORECASE)


class Luma(Adapter):
    name = "luma"
    label = "Luma Dream Machine"
    default_base_url = "https://api.lumalabs.ai"
    default_model = "ray-2"
    # USD per second at 720p from Luma's API price list (ray-2 $0.71 and ray-flash-2 $0.24 per 5 s clip); other
    # resolutions cost Luma more or less in proportion to their pixels.
    models = {
        "ray-2": ModelInfo(
            id="ray-2",
            label="Ray 2",
            durations=(5, 9),
            aspect_ratios=ASPECT_RATIOS,
            resolutions=RESOLUTIONS,
            image="none",
            price_per_second=0.142,
            default_duration=5,
        ),
        "ray-flash-2": ModelInfo(
            id="ray-flash-2",
            label="Ray Flash 2",
            durations=(5, 9),
            aspect_ratios=ASPECT_RATIOS,
            resolutions=RESOLUTIONS,
            image="none",
            price_per_second=0.048,
            default_duration=5,
        ),
    }

    def create(self, request: Request, credential: dict[str, str]) -> Submitted:
        body = {
            "generation_type": "video",
            "model": request.model,
            "prompt": request.prompt,
            "aspect_ratio": request.aspect_ratio,
            "resolution": request.resolution or RESOLUTIONS[0],
            "duration": f"{request.duration}s",
        }
        with self.client(timeout=60) as client:
            response = send(client, "POST", f"{API}/generations/video", json=body, headers=_auth(credential))
        return Submitted(task_id=str(_answer(response)["id"]))

    def poll(self, task_id: str, model: str, credential: dict[str, str]) -> Poll:
        with self.client() as client:
            response = send(client, "GET", f"{API}/generations/{task_id}", headers=_auth(credential))
        generation = _answer(response)
        poll = Poll(state=STATES.get(generation.get("state"), "running"))
        if poll.state == "succeeded":
            poll.video_url = str((generation.get("assets") or {}).get("video") or "")
            if not poll.video_url:
                poll.state, poll.error = "failed", ProviderError(PROVIDER_ERROR, "Luma finished without a video.")
        elif poll.state == "failed":
            reason = str(generation.get("failure_reason") or "The generation failed.")
            poll.error = ProviderError(CONTENT_POLICY if MODERATION.search(reason) else PROVIDER_ERROR, reason)
        return poll

    def cancel(self, task_id: str, model: str, credential: dict[str, str]) -> None:
        """Luma has no cancel: deleting the generation is the documented way to drop it."""
        with self.client() as client:
            response = send(client, "DELETE", f"{API}/generations/{task_id}", headers=_auth(credential))
        if not response.is_success and response.status_code != 404:
            raise _error(response)

    def download(self, poll: Poll, credential: dict[str, str], dest: Path, *, max_bytes: int) -> str:
        """The asset is a public CDN URL: fetched without the key, through the SSRF check."""
        return download_url(poll.video_url, dest, max_bytes=max_bytes)

    def validate(self, credential: dict[str, str]) -> CheckResult:
        """GET /credits: free, needs a working key, and tells an empty balance apart."""
        try:
            with self.client() as client:
                response = send(client, "GET", f"{API}/credits", headers=_auth(credential))
            balance = float(_answer(response).get("credit_balance") or 0)  # USD cents
        except ProviderError as exc:
            return check_result(exc, "Luma")
        if balance <= 0:
            return CheckResult("quota_exceeded", "The Luma account has no credits left.")
        return CheckResult("active", f"Credit balance ${balance / 100:.2f}.")


def _auth(credential: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential.get('secret', '')}"}


def _answer(response: httpx.Response) -> dict:
    return answer(response, _error, "Luma")


def _error(response: httpx.Response) -> ProviderError:
    """Luma's {"detail": "..."} (a list of field errors on validation failures) in our codes."""
    detail = (json_object(response) or {}).get("detail")
    if isinstance(detail, list):
        detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
    message = str(detail or "")
    error = status_code_error(response, message)
    if error.code == INVALID_REQUEST and NO_CREDITS.search(message):
        code = QUOTA_EXCEEDED
    elif error.code == INVALID_REQUEST and MODERATION.search(message):
        code = CONTENT_POLICY
    else:
        return error
    return ProviderError(code, error.message, retry_after=error.retry_after, http_status=error.http_status)
