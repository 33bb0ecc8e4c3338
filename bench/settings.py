"""Settings for bench/api_load.py: MediaHub's own, with the bare views of bench/urls.py beside the real API and
rate limits too high to refuse anything (the throttle still runs, so its cost is measured)."""

from mediahub.settings import *  # noqa: F403
from mediahub.settings import MEDIAHUB_RATE_LIMITS

ROOT_URLCONF = "bench.urls"
MEDIAHUB_RATE_LIMITS = {scope: (10**9, 10**9) for scope in MEDIAHUB_RATE_LIMITS}
