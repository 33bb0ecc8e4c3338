"""HTTP answers → ProviderError, the same way for every provider; fetching a finished video; and what a failed
credential check means."""

import email.utils
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from keys.provider_checks import CheckResult, CheckUnavailable
from mediahub.errors import AppError
from mediahub.ssrf import fetch_to_file
from providers.adapters.base import (
    INVALID_CREDENTIALS,
    INVALID_REQUEST,
    PROVIDER_ERROR,
    QUOTA_EXCEEDED,
    RATE_LIMITED,
    ProviderError,
)

VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream")


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (delta or HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def status_code_error(response: httpx.Response, message: str) -> ProviderError:
    """The normalised error for a failed HTTP answer; `message` is the provider's own words (no secrets)."""
    status = response.status_code
    code = {401: INVALID_CREDENTIALS, 403: INVALID_CREDENTIALS, 402: QUOTA_EXCEEDED, 429: RATE_LIMITED}.get(status)
    if code is None:
        code = PROVIDER_ERROR if status >= 500 or status == 408 else INVALID_REQUEST
    return ProviderError(code, message or f"HTTP {status}", retry_after=retry_after(response), http_status=status)


def json_object(response: httpx.Response) -> dict | None:
    """The body when it is a JSON object, else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def answer(response: httpx.Response, error: Callable[[httpx.Response], ProviderError], provider: str) -> dict:
    """A successful answer's JSON object; a failed one raised as `error(response)`."""
    if not response.is_success:
        raise error(response)
    body = json_object(response)
    if body is None:
        raise ProviderError(PROVIDER_ERROR, f"{provider}'s answer was not JSON.")
    return body


def send(client: httpx.Client, method: str, path: str, **kwargs) -> httpx.Response:
    """One request; transport failures become a retryable provider_error."""
    try:
        return client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise ProviderError(PROVIDER_ERROR, "The provider did not answer in time.") from None
    except httpx.HTTPError as exc:
        raise ProviderError(PROVIDER_ERROR, f"Could not reach the provider ({type(exc).__name__}).") from None


def download_url(url: str, dest: Path, *, max_bytes: int) -> str:
    """Fetch a provider's result URL (SSRF-checked like any URL from outside) into `dest`; its Content-Type."""
    try:
        download = fetch_to_file(url, dest, max_bytes=max_bytes, timeout=120)
    except AppError as exc:
        # An expired temporary URL reads as 403/404 here; the router polls again for a fresh one.
        raise ProviderError(PROVIDER_ERROR, f"Downloading the video failed: {exc.message}") from None
    check_content_type(download.content_type)
    return download.content_type


def check_content_type(content_type: str) -> None:
    if not content_type.lower().startswith(VIDEO_TYPES):
        raise ProviderError(PROVIDER_ERROR, f"The provider sent {content_type or 'no content type'}, not a video.")


def check_result(error: ProviderError, provider_label: str) -> CheckResult:
    """A credential check's failure as its verdict: a refused key is invalid, an empty account out of quota;
    anything else (an outage, a rate limit) says nothing about the key, so the check is unavailable."""
    if error.code == INVALID_CREDENTIALS:
        return CheckResult("invalid", error.message)
    if error.code == QUOTA_EXCEEDED:
        return CheckResult("quota_exceeded", error.message)
    raise CheckUnavailable(f"{provider_label} could not check the key: {error.message}") from None
