"""Rate limits as token buckets: a sustained rate per minute and a burst, per API key (or user, or address).

`MEDIAHUB_RATE_LIMITS` maps a scope to (requests per minute, burst): the public API allows 60/min with bursts
of 10, the internal API 1000/min with bursts of 100. Buckets live in the cache (Redis in production), so all
web processes share them; concurrent requests may rarely both take the last token, which is harmless."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from keys.models import ApiKey
from keys.permissions import INTERNAL_PREFIX


class TokenBucketThrottle(BaseThrottle):
    def __init__(self):
        self._wait = 0.0

    def scope(self, request) -> str:
        return "internal" if request.path.startswith(INTERNAL_PREFIX) else "public"

    def ident(self, request) -> str:
        if isinstance(request.auth, ApiKey):
            return f"key:{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        scope = self.scope(request)
        per_minute, burst = settings.MEDIAHUB_RATE_LIMITS[scope]
        rate = per_minute / 60
        key = f"throttle:{scope}:{self.ident(request)}"
        now = time.time()
        tokens, last = cache.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        else:
            self._wait = (1 - tokens) / rate
        cache.set(key, (tokens, now), timeout=int(burst / rate) + 60)
        return allowed

    def wait(self) -> float:
        return self._wait
