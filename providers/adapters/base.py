"""What every provider adapter is: its models' capabilities, and create / poll / cancel / download / validate
against the provider's documented HTTP API. Adapters are stateless: everything a later call needs (the task
id, the result's URL) travels in their return values, so polling survives a worker restart."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx
from django.conf import settings

from keys.provider_checks import CheckResult

# Normalised error codes (ProviderError.code); the router acts on them.
INVALID_CREDENTIALS = "invalid_credentials"  # credential marked invalid, next credential
QUOTA_EXCEEDED = "quota_exceeded"  # credential marked quota_exceeded, next credential
RATE_LIMITED = "rate_limited"  # retried with backoff, then the next provider
CONTENT_POLICY = "content_policy"  # final: never retried, no fallback
PROVIDER_ERROR = "provider_error"  # 5xx or a failed task: retried, then the next provider
TIMEOUT = "timeout"  # the provider took longer than our limit: next provider
INVALID_REQUEST = "invalid_request"  # the provider refused the parameters: final
MODEL_RETIRED = "model_retired"  # the model is gone at this endpoint: final for this provider


class ProviderError(Exception):
    """A provider's failure, normalised. `retry_after` is the provider's hint in seconds, when it gave one."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.http_status = http_status


@dataclass(frozen=True)
class ModelInfo:
    """One model's capabilities and price. `durations` in seconds; `aspect_ratios` like "16:9";
    `resolutions` like "720p" (empty when the provider decides); `image` is "none", "optional" or "required"."""

    id: str
    label: str
    durations: tuple[int, ...]
    aspect_ratios: tuple[str, ...]
    resolutions: tuple[str, ...] = ()
    image: str = "optional"
    text: bool = True  # text-to-video without an image
    price_per_second: float = 0.0  # USD, overridable in settings (providers.catalog)
    default_duration: int | None = None


@dataclass
class Request:
    """A generation request in our normalised fields, already validated against the model's capabilities.
    `image_path`/`image_url`: the start image as a local file, and as a URL the provider may fetch (a data: URI
    when we have no public URL)."""

    model: str
    prompt: str
    duration: int
    aspect_ratio: str
    resolution: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    image_path: Path | None = None
    image_data_uri: str = ""


@dataclass
class Submitted:
    task_id: str
    poll_after: float | None = None  # seconds, when the provider hints it


@dataclass
class Poll:
    """One look at a task. `state`: queued, running, succeeded, failed, cancelled. On success `video_url` is where
    `download` fetches from (the provider's temporary URL, or the content endpoint); `error` on failure."""

    state: str
    progress: float | None = None  # 0–100 when the provider reports it
    video_url: str = ""
    error: ProviderError | None = None
    poll_after: float | None = None  # seconds, when the provider hints it
    extra: dict = field(default_factory=dict)


class Adapter(ABC):
    name: ClassVar[str]
    label: ClassVar[str]
    default_base_url: ClassVar[str]
    models: ClassVar[dict[str, ModelInfo]]
    default_model: ClassVar[str]
    needs_credential: ClassVar[bool] = True

    @property
    def base_url(self) -> str:
        """MEDIAHUB_PROVIDERS[name]["base_url"] (or env MEDIAHUB_<NAME>_BASE_URL), else the documented one."""
        configured = settings.MEDIAHUB_PROVIDERS.get(self.name, {}).get("base_url")
        return (configured or self.default_base_url).rstrip("/")

    def client(self, timeout: float = 30) -> httpx.Client:
        # trust_env=False: no proxy variables or netrc; a proxy is configured as the base URL instead.
        return httpx.Client(base_url=self.base_url, timeout=timeout, follow_redirects=False, trust_env=False)

    @abstractmethod
    def create(self, request: Request, credential: dict[str, str]) -> Submitted:
        """Start a task; raise ProviderError on any refusal."""

    @abstractmethod
    def poll(self, task_id: str, model: str, credential: dict[str, str]) -> Poll:
        """Look at a task once; raise ProviderError when the request itself fails (401, 429, 5xx…)."""

    @abstractmethod
    def cancel(self, task_id: str, model: str, credential: dict[str, str]) -> None:
        """Ask the provider to stop a task; best effort (a finished task may refuse)."""

    @abstractmethod
    def download(self, poll: Poll, credential: dict[str, str], dest: Path, *, max_bytes: int) -> str:
        """Fetch the finished video into `dest`; return its Content-Type. ProviderError when it fails."""

    @abstractmethod
    def validate(self, credential: dict[str, str]) -> CheckResult:
        """The cheapest real call that proves the credential works."""
