"""Runway's API (api.dev.runwayml.com): a text_to_video or image_to_video task, polled at /v1/tasks/{id} and
cancelled by DELETE. Every request names the API version Runway's docs require alongside the bearer key."""

import base64
import mimetypes
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

API_VERSION = "2024-11-06"
STATES = {
    "PENDING": "queued",
    "THROTTLED": "queued",  # waiting for the organisation's concurrency slot
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}
# Runway's `ratio` is the output size in pixels: our aspect ratio at our resolution.
RATIOS = {
    ("16:9", "720p"): "1280:720",
    ("9:16", "720p"): "720:1280",
    ("4:3", "720p"): "1104:832",
    ("3:4", "720p"): "832:1104",
    ("1:1", "720p"): "960:960",
    ("21:9", "720p"): "1584:672",
    ("16:9", "1080p"): "1920:1080",
    ("9:16", "1080p"): "1080:1920",
}
SEEDED = {"gen4.5", "gen4_turbo"}  # the models with a `seed` field
NEGATIVE_PROMPT = {"veo3.1", "veo3.1_fast"}  # the models with a `negativePrompt` field
MAX_DATA_URI = 5 * 1024 * 1024  # Runway refuses longer data URIs
NO_CREDITS = re.compile(r"enough credits|credit balance|no credits", re.IGNORECASE)


class Runway(Adapter):
    name = "runway"
    label = "Runway"
    default_base_url = "https://api.dev.runwayml.com"
    default_model = "gen4.5"
    # Fields, ratios and durations per model from Runway's API reference (its SDK's request types): gen4.5 makes
    # 16:9 and 9:16 from text (its other ratios only from an image, so they are left out); gen4_turbo only from
    # an image. USD per second from Runway's API pricing at $0.01 a credit: gen4.5 12 credits/s, gen4_turbo 5,
    # veo3.1 40 and veo3.1_fast 15 with audio (the model's default; 20 and 10 without).
    models = {
        "gen4.5": ModelInfo(
            id="gen4.5",
            label="Gen-4.5",
            durations=tuple(range(2, 11)),
            aspect_ratios=("16:9", "9:16"),
            resolutions=("720p",),
            price_per_second=0.12,
            default_duration=5,
        ),
        "gen4_turbo": ModelInfo(
            id="gen4_turbo",
            label="Gen-4 Turbo",
            durations=(5, 10),
            aspect_ratios=("16:9", "9:16", "4:3", "3:4", "1:1", "21:9"),
            resolutions=("720p",),
            image="required",
            text=False,
            price_per_second=0.05,
            default_duration=5,
        ),
        "veo3.1": ModelInfo(
            id="veo3.1",
            label="Veo 3.1",
            durations=(4, 6, 8),
            aspect_ratios=("16:9", "9:16"),
            resolutions=("720p", "1080p"),
            price_per_second=0.40,
            default_duration=8,
        ),
        "veo3.1_fast": ModelInfo(
            id="veo3.1_fast",
            label="Veo 3.1 Fast",
            durations=(4, 6, 8),
            aspect_ratios=("16:9", "9:16"),
            resolutions=("720p", "1080p"),
            price_per_second=0.15,
            default_duration=8,
        ),
    }

    def create(self, request: Request, credential: dict[str, str]) -> Submitted:
        info = self.models[request.model]
        resolution = request.resolution or info.resolutions[0]
        ratio = RATIOS.get((request.aspect_ratio, resolution))
        if ratio is None or request.aspect_ratio not in info.aspect_ratios or resolution not in info.resolutions:
            raise ProviderError(
                INVALID_REQUEST, f"{request.model} makes no {request.aspect_ratio} video at {resolution}."
            )
        body: dict = {"model": request.model, "ratio": ratio, "duration": request.duration}
        if request.prompt:
            body["promptText"] = request.prompt
        if request.seed is not None and request.model in SEEDED:
            body["seed"] = request.seed
        if request.negative_prompt and request.model in NEGATIVE_PROMPT:
            body["negativePrompt"] = request.negative_prompt
        image = _image(request)
        if image:
            body["promptImage"] = image
        path = "/v1/image_to_video" if image else "/v1/text_to_video"
        with self.client(timeout=60) as client:
            response = send(client, "POST", path, json=body, headers=_headers(credential))
        return Submitted(task_id=str(_answer(response)["id"]))

    def poll(self, task_id: str, model: str, credential: dict[str, str]) -> Poll:
        with self.client() as client:
            response = send(client, "GET", f"/v1/tasks/{task_id}", headers=_headers(credential))
        task = _answer(response)
        poll = Poll(state=STATES.get(task.get("status"), "running"))
        progress = task.get("progress")
        if poll.state == "running" and isinstance(progress, int | float):
            poll.progress = round(min(max(progress, 0), 1) * 100, 1)
        if poll.state == "succeeded":
            outputs = task.get("output") or []
            poll.video_url = str(outputs[0]) if outputs else ""
            if not poll.video_url:
                poll.state, poll.error = "failed", ProviderError(PROVIDER_ERROR, "Runway finished without a video.")
        elif poll.state == "failed":
            poll.error = _failure(task)
        return poll

    def cancel(self, task_id: str, model: str, credential: dict[str, str]) -> None:
        """DELETE cancels a running task (and deletes a finished one); an unknown task is already gone."""
        with self.client() as client:
            response = send(client, "DELETE", f"/v1/tasks/{task_id}", headers=_headers(credential))
        if not response.is_success and response.status_code != 404:
            raise _error(response)

    def download(self, poll: Poll, credential: dict[str, str], dest: Path, *, max_bytes: int) -> str:
        """The output is a signed URL that expires in a day or two: fetched without the key, SSRF-checked."""
        return download_url(poll.video_url, dest, max_bytes=max_bytes)

    def validate(self, credential: dict[str, str]) -> CheckResult:
        """GET /v1/organization: free, needs a working key, and tells the credit balance."""
        try:
            with self.client() as client:
                response = send(client, "GET", "/v1/organization", headers=_headers(credential))
            balance = _answer(response).get("creditBalance") or 0
        except ProviderError as exc:
            return check_result(exc, "Runway")
        if balance <= 0:
            return CheckResult("quota_exceeded", "The Runway organization has no credits left.")
        return CheckResult("active", f"{balance} credits left.")


def _headers(credential: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential.get('secret', '')}", "X-Runway-Version": API_VERSION}


def _image(request: Request) -> str:
    """The start image as a data URI (MediaHub has no public HTTPS URL for it), within Runway's size limit."""
    uri = request.image_data_uri
    if not uri and request.image_path:
        mime = mimetypes.guess_type(request.image_path.name)[0] or "image/png"
        uri = f"data:{mime};base64,{base64.b64encode(request.image_path.read_bytes()).decode()}"
    if len(uri) >= MAX_DATA_URI:
        raise ProviderError(INVALID_REQUEST, "Runway takes start images up to about 3.5 MB (5 MB as base64).")
    return uri


def _answer(response: httpx.Response) -> dict:
    return answer(response, _error, "Runway")


def _error(response: httpx.Response) -> ProviderError:
    """Runway's {"error": "...", "issues": [...]} in our codes; an empty balance answers 400 "not enough credits"."""
    body = json_object(response) or {}
    issues = [str(i.get("message")) for i in body.get("issues") or [] if isinstance(i, dict) and i.get("message")]
    message = "; ".join([str(body.get("error") or ""), *issues]).strip("; ")
    error = status_code_error(response, message)
    if error.code == INVALID_REQUEST and NO_CREDITS.search(message):
        return ProviderError(QUOTA_EXCEEDED, error.message, http_status=error.http_status)
    return error


def _failure(task: dict) -> ProviderError:
    """failureCode is dotted, most generic first; any SAFETY segment (SAFETY.INPUT.TEXT,
    INPUT_PREPROCESSING.SAFETY.TEXT…) is moderation, which Runway says not to retry."""
    code = str(task.get("failureCode") or "")
    message = str(task.get("failure") or "The task failed.")
    if code:
        message = f"{message} ({code})"
    return ProviderError(CONTENT_POLICY if "SAFETY" in code.split(".") else PROVIDER_ERROR, message)
