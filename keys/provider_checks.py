"""The hook provider adapters plug into to check a credential: `@register("runway")` on a function that takes
the decrypted parts and returns a CheckResult. The adapters live with the providers; this is only the seam."""

from collections.abc import Callable
from dataclasses import dataclass

from mediahub.errors import AppError


@dataclass
class CheckResult:
    status: str  # a ProviderCredential.Status value: active, invalid or quota_exceeded
    message: str = ""


Check = Callable[[dict[str, str]], CheckResult]
_CHECKS: dict[str, Check] = {}


class CheckUnavailable(AppError):
    status = 503
    code = "provider_check_unavailable"


def register(provider: str) -> Callable[[Check], Check]:
    def decorate(check: Check) -> Check:
        _CHECKS[provider] = check
        return check

    return decorate


def check_credential(provider: str, parts: dict[str, str]) -> CheckResult:
    check = _CHECKS.get(provider)
    if check is None:
        raise CheckUnavailable(f"No adapter can check {provider} credentials on this server yet.")
    return check(parts)
