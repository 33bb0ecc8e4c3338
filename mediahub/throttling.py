"""Rate limits: one token bucket per user (anonymous clients: per address) and budget, shared by all the user's
keys and all web processes.

`MEDIAHUB_RATE_LIMITS` maps a budget to (requests per minute, burst): `read` (GET, HEAD, OPTIONS), `write`
(everything else), `content` (asset bytes and the members of HLS/DASH streams: a view opts in with
`throttle_scope = "content"`), and `internal` (the internal API). A budget missing from the setting or set to
0 per minute is not limited. Each answer carries the budget it drew on as IETF RateLimit headers
(draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "read";q=600;w=60` and `RateLimit: "read";r=599;t=1`;
a refusal is a 429 with Retry-After.

The bucket is kept as GCRA's one number (the time at which it is full again, in microseconds: whole numbers,
exact in Lua as in Python). With Redis it is read and updated by one script, atomically, in one round trip.
Without Redis (the embedded setup) buckets live in the `ratelimit` cache, local memory: each web process
counts on its own, and no request pays a database write for it."""

import functools
import logging
import math
import time

import redis
from django.conf import settings
from django.core.cache import caches
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle

from keys.permissions import INTERNAL_PREFIX

logger = logging.getLogger(__name__)

# KEYS[1] the bucket; ARGV now, microseconds per request, burst. Returns {1 taken | 0 refused, full again at}.
TAKE = """
local full_at = tonumber(redis.call('GET', KEYS[1]))
local now, interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if full_at == nil or full_at < now then full_at = now end
if full_at + interval - burst * interval > now then return {0, full_at} end
full_at = full_at + interval
redis.call('SET', KEYS[1], string.format('%d', full_at), 'PX', math.ceil((full_at - now) / 1000) + 1000)
return {1, full_at}
"""


@functools.cache
def _take_script(url: str):
    # Timeouts as the cache's: a hung Redis costs a request seconds (then it is let through), never its thread.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2).register_script(TAKE)


def _take_in_cache(key: str, now: int, interval: int, burst: int) -> tuple[bool, int]:
    cache = caches["ratelimit"]
    full_at = max(cache.get(key, now), now)
    if full_at + interval - burst * interval > now:
        return False, full_at
    full_at += interval
    cache.set(key, full_at, timeout=math.ceil((full_at - now) / 1e6) + 1)
    return True, full_at


def take(key: str, now: int, interval: int, burst: int) -> tuple[bool, int]:
    """Take one request from the bucket `key` (times in microseconds): whether it was allowed, and when the
    bucket is full again."""
    if not settings.REDIS_URL:
        return _take_in_cache(key, now, interval, burst)
    taken, full_at = _take_script(settings.REDIS_URL)(keys=[key], args=[now, interval, burst])
    return bool(taken), int(full_at)


def budget_for(request, view) -> str:
    if request.path.startswith(INTERNAL_PREFIX):
        return "internal"
    return getattr(view, "throttle_scope", None) or ("read" if request.method in SAFE_METHODS else "write")


class RateLimitThrottle(BaseThrottle):
    def __init__(self):
        self._wait = 0.0

    def ident(self, request) -> str:
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        budget = budget_for(request, view)
        per_minute, burst = settings.MEDIAHUB_RATE_LIMITS.get(budget, (0, 0))
        if per_minute <= 0:
            return True
        interval, burst = max(1, round(60_000_000 / per_minute)), max(1, burst)
        now = int(time.time() * 1_000_000)
        try:
            allowed, full_at = take(f"ratelimit:{budget}:{self.ident(request)}", now, interval, burst)
        except redis.RedisError:
            logger.warning("rate limits not applied: Redis did not answer", exc_info=True)
            return True
        remaining = max(0, (now + burst * interval - full_at) // interval)
        if not allowed:
            self._wait = (full_at + interval - burst * interval - now) / 1e6
        request._request.rate_limit = (
            f'"{budget}";q={burst};w={math.ceil(burst * interval / 1e6)}',
            f'"{budget}";r={remaining};t={math.ceil((full_at - now) / 1e6)}',
        )
        return allowed

    def wait(self) -> float:
        return self._wait


class RateLimitHeadersMiddleware:
    """Puts the RateLimit-Policy and RateLimit headers the throttle measured on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        measured = getattr(request, "rate_limit", None)
        if measured:
            response.headers["RateLimit-Policy"], response.headers["RateLimit"] = measured
        return response
