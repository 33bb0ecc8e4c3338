"""Replicate's predictions API for a few hosted video models: create on the model's official endpoint, poll the
prediction, fetch the output URL. Each model names its inputs differently; `INPUTS` maps ours onto them."""

import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from keys.provider_checks import CheckResult
from providers.adapters.base import (
    CONTENT_POLICY,
    MODEL_RETIRED,
    PROVIDER_ERROR,
    Adapter,
    ModelInfo,
    Poll,
    ProviderError,
    Request,
    Submitted,
)
from providers.adapters.http import answer, check_result, download_url, json_object, send, status_code_error

STATES = {
    "starting": "queued",
    "processing": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "cancelled",
}
# Replicate's safety checker fails a prediction with E005 ("flagged as sensitive").
FLAGGED = re.compile(r"nsfw|sensitive|safety|E005|content policy", re.IGNORECASE)


@dataclass(frozen=True)
class Inputs:
    """The model's input names for our fields (None: the model has no such input) and, for `resolution`,
    its values for ours when it spells them differently."""

    image: str
    duration: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    resolution_values: dict[str, str] = field(default_factory=dict)
    negative_prompt: str | None = None
    seed: str | None = None


# Input names from each model's API schema on replicate.com. USD per second from the model pages: video-01
# $0.50 per 6 s clip; kling-v2.1 $0.05/s in standard (720p) mode, pro (1080p) costs more; veo-3 $0.40/s.
INPUTS = {
    "minimax/video-01": Inputs(image="first_frame_image"),
    "kwaivgi/kling-v2.1": Inputs(
        image="start_image",
        duration="duration",
        resolution="mode",
        resolution_values={"720p": "standard", "1080p": "pro"},
        negative_prompt="negative_prompt",
    ),
    "google/veo-3": Inputs(
        image="image",
        duration="duration",
        aspect_ratio="aspect_ratio",
        resolution="resolution",
        negative_prompt="negative_prompt",
        seed="seed",
    ),
}


class Replicate(Adapter):
    name = "replicate"
    label = "Replicate"
    default_base_url = "https://api.replicate.com"
    default_model = "minimax/video-01"
    models = {
        # 16:9 from text; a start image sets the frame's shape instead.
        "minimax/video-01": ModelInfo(
            id="minimax/video-01",
            label="MiniMax Video-01 (Hailuo)",
            durations=(6,),
            aspect_ratios=("16:9",),
            resolutions=("720p",),
            price_per_second=0.083,
        ),
        # Image to video only; the start image sets the frame's shape.
        "kwaivgi/kling-v2.1": ModelInfo(
            id="kwaivgi/kling-v2.1",
            label="Kling 2.1",
            durations=(5, 10),
            aspect_ratios=("16:9", "9:16", "1:1"),
            resolutions=("720p", "1080p"),
            image="required",
            text=False,
            price_per_second=0.05,
            default_duration=5,
        ),
        "google/veo-3": ModelInfo(
            id="google/veo-3",
            label="Google Veo 3",
            durations=(4, 6, 8),
            aspect_ratios=("16:9", "9:16"),
            resolutions=("720p", "1080p"),
            price_per_second=0.40,
            default_duration=8,
        ),
    }

    def create(self, request: Request, credential: dict[str, str]) -> Submitted:
        """The model's official endpoint runs its latest version; `Prefer: wait` is left out (we poll)."""
        with self.client(timeout=60) as client:
            response = send(
                client,
                "POST",
                f"/v1/models/{request.model}/predictions",
                json={"input": _input(request)},
                headers=_auth(credential),
            )
        if response.status_code == 404:
            raise ProviderError(MODEL_RETIRED, f"Replicate no longer serves {request.model}.", http_status=404)
        return Submitted(task_id=str(_answer(response)["id"]))

    def poll(self, task_id: str, model: str, credential: dict[str, str]) -> Poll:
        with self.client() as client:
            response = send(client, "GET", f"/v1/predictions/{task_id}", headers=_auth(credential))
        prediction = _answer(response)
        poll = Poll(state=STATES.get(prediction.get("status"), "running"))
        if poll.state == "succeeded":
            output = prediction.get("output")  # one URL, or a list of them
            if isinstance(output, list):
                output = output[0] if output else None
            poll.video_url = str(output or "")
            if not poll.video_url:
                poll.state, poll.error = "failed", ProviderError(PROVIDER_ERROR, "Replicate returned no video.")
        elif poll.state == "failed":
            message = str(prediction.get("error") or "The prediction failed.")
            poll.error = ProviderError(CONTENT_POLICY if FLAGGED.search(message) else PROVIDER_ERROR, message)
        return poll

    def cancel(self, task_id: str, model: str, credential: dict[str, str]) -> None:
        with self.client() as client:
            response = send(client, "POST", f"/v1/predictions/{task_id}/cancel", headers=_auth(credential))
        if response.status_code != 404:
            _answer(response)

    def download(self, poll: Poll, credential: dict[str, str], dest: Path, *, max_bytes: int) -> str:
        """Outputs are served from replicate.delivery without the key, so the URL goes through the SSRF check."""
        return download_url(poll.video_url, dest, max_bytes=max_bytes)

    def validate(self, credential: dict[str, str]) -> CheckResult:
        """GET /v1/account: free, and it needs a working token."""
        try:
            with self.client() as client:
                response = send(client, "GET", "/v1/account", headers=_auth(credential))
            account = _answer(response)
        except ProviderError as exc:
            return check_result(exc, "Replicate")
        username = account.get("username")
        return CheckResult("active", f"Replicate account {username}." if username else "")


def _auth(credential: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential.get('secret', '')}"}


def _input(request: Request) -> dict:
    """Our request in the model's input names; what the model has no input for is left to its defaults."""
    names = INPUTS[request.model]
    values = {
        names.image: request.image_data_uri,
        names.duration: request.duration,
        names.aspect_ratio: request.aspect_ratio,
        names.resolution: names.resolution_values.get(request.resolution, request.resolution),
        names.negative_prompt: request.negative_prompt,
        names.seed: request.seed,
    }
    given = {name: value for name, value in values.items() if name and value not in ("", None)}
    return {"prompt": request.prompt, **given}


def _answer(response: httpx.Response) -> dict:
    return answer(response, _error, "Replicate")


def _error(response: httpx.Response) -> ProviderError:
    """Replicate's RFC 7807 problem details {"title", "detail", "status"}; 402 is an exhausted balance."""
    problem = json_object(response) or {}
    return status_code_error(response, str(problem.get("detail") or problem.get("title") or ""))
