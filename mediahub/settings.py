"""MediaHub settings, read from the environment (see README: "Configuration")."""

import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from mediahub.env import env_bool, env_cidrs, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("MEDIAHUB_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

PRODUCTION = env_str("MEDIAHUB_ENV", "development") == "production"
DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key or PRODUCTION:
        return key  # an empty key in production is reported by the mediahub.E003 check
    path = DATA_DIR / "secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


# Production without SECRET_KEY still starts far enough for the mediahub.E003 check to say so.
SECRET_KEY = _secret_key() or secrets.token_urlsafe(50)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "channels",
    "mediahub",
    "keys",
    "jobs",
    "compositions",
    "providers",
]

MIDDLEWARE = [
    "mediahub.middleware.RequestLogMiddleware",  # first: its id, timing and access line cover every other layer
    "django.middleware.security.SecurityMiddleware",
    "mediahub.middleware.SecurityHeadersMiddleware",
    "mediahub.middleware.RejectNulMiddleware",
    "mediahub.throttling.RateLimitHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mediahub.urls"
ASGI_APPLICATION = "mediahub.asgi.application"
WSGI_APPLICATION = "mediahub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database: embedded SQLite unless DATABASE_URL is set -------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
DATABASE_URL_ERROR = ""  # reported by the mediahub.E004 check, which names the variable and the fix
# PostgreSQL connections come from a bounded pool in each process (psycopg_pool): a web process runs every
# request in a thread of its own, so without a bound its connections grow with its clients. A web process
# needs about as many connections as requests it can work on at once (a few per core); a qcluster process runs
# one task at a time (plus its lease thread), and each of its MEDIAHUB_WORKERS forked workers has a pool of
# its own. A request that waits MEDIAHUB_DB_POOL_TIMEOUT seconds for a connection is answered 503.
_QCLUSTER_PROCESS = sys.argv[1:2] == ["qcluster"]
MEDIAHUB_DB_POOL_SIZE = env_int("MEDIAHUB_DB_POOL_SIZE", 4 if _QCLUSTER_PROCESS else min(32, 2 * os.cpu_count() + 4))
MEDIAHUB_DB_POOL_TIMEOUT = env_int("MEDIAHUB_DB_POOL_TIMEOUT", 10)
if DATABASE_URL:
    try:
        # With a pool, health checks make Django hand psycopg_pool its `check=ConnectionPool.check_connection`:
        # each connection is checked as it leaves the pool, so after a PostgreSQL restart the broken ones are
        # discarded and replaced instead of failing requests.
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)}
        if not DATABASES["default"]["ENGINE"].endswith(("postgresql", "sqlite3")):
            raise ValueError(f"{DATABASES['default']['ENGINE']} is not supported")
        if DATABASES["default"]["ENGINE"].endswith("postgresql") and not DATABASES["default"]["NAME"]:
            raise ValueError("the URL names no database")
        if DATABASES["default"]["ENGINE"].endswith("postgresql"):
            DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
                "min_size": 1,
                "max_size": max(1, MEDIAHUB_DB_POOL_SIZE),
                "timeout": MEDIAHUB_DB_POOL_TIMEOUT,
            }
    except ValueError as exc:
        DATABASE_URL_ERROR = str(exc)
        DATABASES = {"default": {"ENGINE": "django.db.backends.dummy"}}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": {
                # WAL lets the web server read while a worker writes progress.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            # Tests use a file too: an in-memory database's shared-cache locks fail at once instead of waiting.
            "TEST": {"NAME": DATA_DIR / "test-db.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, channel layer and cache when REDIS_URL is set -----------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # A hung Redis fails a request after seconds instead of holding its thread (and a database connection).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 2},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
else:
    # A database cache is shared by the web server and the workers (django-q2 keeps its cluster stats there).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "mediahub_cache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Without a cross-process channel layer, WebSocket consumers read progress from the job rows.
REALTIME_POLL_DATABASE = not REDIS_URL

Q_CLUSTER = {
    "name": "mediahub",
    "workers": env_int("MEDIAHUB_WORKERS", 2),
    "recycle": 100,
    "timeout": env_int("MEDIAHUB_TASK_TIMEOUT", 6 * 3600),
    "retry": env_int("MEDIAHUB_TASK_TIMEOUT", 6 * 3600) + 600,
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 1000,
    "catch_up": False,
    "poll": 0.2,
    "label": "Task queue",
    # django-q2 reads this whenever Q_CLUSTER_NAME (or `qcluster --name`) names a queue of its own.
    "ALT_CLUSTERS": {},
}
# The broker classes take a task only for an idle worker and stop taking them when the cluster stops (jobs.worker).
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    Q_CLUSTER["broker_class"] = "jobs.worker.RedisBroker"
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["broker_class"] = "jobs.worker.OrmBroker"

# --- storage: local media unless an S3 bucket is configured -----------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "querystring_auth": True,
            "querystring_expire": 3600,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
MEDIAHUB_MAX_UPLOAD_BYTES = env_int("MEDIAHUB_MAX_UPLOAD_MB", 4096) * 1024 * 1024
# Reverse proxies (IPs or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto give the client's address and scheme;
# empty: the connecting peer is the client and those headers are ignored (see docs/serving.md).
MEDIAHUB_TRUSTED_PROXIES = env_cidrs("MEDIAHUB_TRUSTED_PROXIES")

# Networks that user URLs (imports, webhooks, clip URLs) may reach although private or loopback.
MEDIAHUB_SSRF_ALLOWLIST = env_cidrs("MEDIAHUB_SSRF_ALLOWLIST")
# Networks that may read GET /metrics (Prometheus); loopback by default.
MEDIAHUB_METRICS_ALLOWLIST = env_cidrs("MEDIAHUB_METRICS_ALLOWLIST", "127.0.0.0/8,::1/128")
# With a token, GET /metrics wants `Authorization: Bearer <token>` from any address instead of the allowlist.
MEDIAHUB_METRICS_TOKEN = env_str("MEDIAHUB_METRICS_TOKEN")
# prometheus_client's multiprocess mode: each web process writes its request timings here and /metrics sums
# them. `manage.py serve` sets and empties it at start; empty it yourself when starting web processes otherwise.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# How long each health check may take before it counts as down (a hung Redis or S3 must not hang a probe).
MEDIAHUB_HEALTH_TIMEOUT = 1.5
# Fernet keys for secrets at rest, newest first; the embedded default generates one into DATA_DIR.
MEDIAHUB_ENCRYPTION_KEYS = env_list("MEDIAHUB_ENCRYPTION_KEYS")

# --- auth, API ---------------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "jobs:list"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "keys.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "keys.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["mediahub.throttling.RateLimitThrottle"],
    # Address throttles see REMOTE_ADDR only: X-Forwarded-For counts only from MEDIAHUB_TRUSTED_PROXIES (asgi.py).
    "NUM_PROXIES": 0,
    "DEFAULT_PAGINATION_CLASS": "mediahub.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "mediahub.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MediaHub API",
    "DESCRIPTION": "FFmpeg jobs, compositions, highlight clips and AI video generation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc from our own static files (no CDN), so the CSP allows only our own scripts.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.jobs.Job.Status",
        "DeliveryStatusEnum": "jobs.models.webhooks.WebhookDelivery.Status",
        "HealthStatusEnum": ["ok", "degraded"],
        "CheckStatusEnum": ["ok", "error"],
        "LivenessStatusEnum": ["ok"],
        "WorkersStatusEnum": ["ok", "down"],
    },
}

# --- jobs ----------------------------------------------------------------------------------------------
MEDIAHUB_FFMPEG = env_str("MEDIAHUB_FFMPEG", "ffmpeg")
MEDIAHUB_FFPROBE = env_str("MEDIAHUB_FFPROBE", "ffprobe")
MEDIAHUB_JOB_TIMEOUT = env_int("MEDIAHUB_JOB_TIMEOUT", 4 * 3600)
MEDIAHUB_JOB_MAX_ATTEMPTS = env_int("MEDIAHUB_JOB_MAX_ATTEMPTS", 3)
# A running job's lease; its worker renews it at every progress tick (0.5 s) and during transfers, so only a
# dead worker lets it lapse. The "recover stale jobs" schedule re-queues such jobs.
MEDIAHUB_JOB_LEASE_SECONDS = env_int("MEDIAHUB_JOB_LEASE_SECONDS", 30)
MEDIAHUB_PROGRESS_INTERVAL = 0.5
# A job still queued this long is handed to the broker again (a broker restarted without persistence loses tasks).
MEDIAHUB_REQUEUE_AFTER_SECONDS = env_int("MEDIAHUB_REQUEUE_AFTER_SECONDS", 600)
# On SIGTERM a worker lets its running job go on this long, then hands it back to the queue (keep it under the
# orchestrator's stop timeout: Kubernetes' terminationGracePeriodSeconds, compose's stop_grace_period).
MEDIAHUB_WORKER_STOP_GRACE_SECONDS = env_int("MEDIAHUB_WORKER_STOP_GRACE_SECONDS", 20)
# A job's scratch folder left by a killed worker is removed once untouched this long (docs/workers.md).
MEDIAHUB_SCRATCH_MIN_AGE_SECONDS = env_int("MEDIAHUB_SCRATCH_MIN_AGE_SECONDS", 300)
# API rate limits: budget → (requests per minute, burst), per user, whichever key it uses (anonymous clients: per
# address). Reads and writes have budgets of their own, media content (downloads, HLS/DASH segments) one more,
# the internal API its own; 0 per minute: no limit. A burst is a full minute's budget unless set: a client
# polling each of its running jobs (MEDIAHUB_MAX_RUNNING_JOBS_PER_USER) and its job list every second uses a
# fraction of the reads. MEDIAHUB_RATE_PER_MINUTE and MEDIAHUB_RATE_BURST (one budget for all, formerly) still
# set both reads and writes when the newer variables are not set.
_READ = env_int("MEDIAHUB_RATE_READ_PER_MINUTE", env_int("MEDIAHUB_RATE_PER_MINUTE", 600))
_WRITE = env_int("MEDIAHUB_RATE_WRITE_PER_MINUTE", env_int("MEDIAHUB_RATE_PER_MINUTE", 120))
_CONTENT = env_int("MEDIAHUB_RATE_CONTENT_PER_MINUTE", 6000)
MEDIAHUB_RATE_LIMITS = {
    "read": (_READ, env_int("MEDIAHUB_RATE_READ_BURST", env_int("MEDIAHUB_RATE_BURST", _READ))),
    "write": (_WRITE, env_int("MEDIAHUB_RATE_WRITE_BURST", env_int("MEDIAHUB_RATE_BURST", _WRITE))),
    "content": (_CONTENT, env_int("MEDIAHUB_RATE_CONTENT_BURST", _CONTENT)),
    "internal": (env_int("MEDIAHUB_INTERNAL_RATE_PER_MINUTE", 1000), env_int("MEDIAHUB_INTERNAL_RATE_BURST", 100)),
}
# Buckets are kept in Redis when REDIS_URL is set; otherwise in this process's memory (a database cache would
# cost every API request a write).
CACHES["ratelimit"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ratelimit"}
MEDIAHUB_MAX_WEBSOCKETS_PER_USER = env_int("MEDIAHUB_MAX_WEBSOCKETS_PER_USER", 10)
# A rotated key's old secret keeps working this long, so clients can switch without downtime.
MEDIAHUB_KEY_ROTATION_GRACE_HOURS = env_int("MEDIAHUB_KEY_ROTATION_GRACE_HOURS", 24)
# Quotas, checked before any work starts (0 = no limit).
MEDIAHUB_STORAGE_QUOTA_MB = env_int("MEDIAHUB_STORAGE_QUOTA_MB", 0)
MEDIAHUB_MAX_ACTIVE_JOBS_PER_USER = env_int("MEDIAHUB_MAX_ACTIVE_JOBS_PER_USER", 2000)
# Fairness: no user runs more jobs at once than this, however many they queued.
MEDIAHUB_MAX_RUNNING_JOBS_PER_USER = env_int("MEDIAHUB_MAX_RUNNING_JOBS_PER_USER", 2)
MEDIAHUB_MAX_BATCH_JOBS = 1000
# Where MediaHub is reached from outside (https://media.example.com): makes URLs in webhook events absolute.
MEDIAHUB_PUBLIC_URL = env_str("MEDIAHUB_PUBLIC_URL", "")
MEDIAHUB_WEBHOOK_TIMEOUT = env_int("MEDIAHUB_WEBHOOK_TIMEOUT", 10)
# Seconds to wait before each retry of a failed webhook delivery (±20 % jitter): about a day in all.
MEDIAHUB_WEBHOOK_RETRY_DELAYS = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
# Composition limits, checked when a spec is submitted.
MEDIAHUB_COMPOSITION_MAX_CLIPS = env_int("MEDIAHUB_COMPOSITION_MAX_CLIPS", 100)
MEDIAHUB_COMPOSITION_MAX_OVERLAYS = env_int("MEDIAHUB_COMPOSITION_MAX_OVERLAYS", 50)
MEDIAHUB_COMPOSITION_MAX_SECONDS = env_int("MEDIAHUB_COMPOSITION_MAX_SECONDS", 3600)
# A local faster-whisper (CTranslate2) model directory; empty: no whisper engine. Models are never downloaded.
MEDIAHUB_WHISPER_MODEL_DIR = env_str("MEDIAHUB_WHISPER_MODEL_DIR", "")

# --- AI video providers --------------------------------------------------------------------------------
# Per provider: "base_url" (a proxy or a test server can stand in) and "prices" {model: USD per second}
# overriding providers.catalog's table. MEDIAHUB_<PROVIDER>_BASE_URL sets the base URL alone.
MEDIAHUB_PROVIDERS = {
    name: {"base_url": env_str(f"MEDIAHUB_{name.upper()}_BASE_URL")}
    for name in ("runway", "kling", "openai", "luma", "replicate")
}
# A generation's limit from submit to a stored video, and the slowest we poll (provider hints aside).
MEDIAHUB_GENERATION_TIMEOUT = env_int("MEDIAHUB_GENERATION_TIMEOUT", 30 * 60)
MEDIAHUB_GENERATION_MAX_POLL_SECONDS = env_int("MEDIAHUB_GENERATION_MAX_POLL_SECONDS", 30)
# How often a rate-limited or failing (5xx) provider is retried before the next one in `fallback` is tried.
MEDIAHUB_GENERATION_RETRIES = env_int("MEDIAHUB_GENERATION_RETRIES", 4)
MEDIAHUB_GENERATION_MAX_BYTES = env_int("MEDIAHUB_GENERATION_MAX_MB", 500) * 2**20
# Default monthly spend limit per user in USD (0 = none); a user's own budget (admin) overrides it.
MEDIAHUB_MONTHLY_BUDGET_USD = env_int("MEDIAHUB_MONTHLY_BUDGET_USD", 0)
MEDIAHUB_WORK_DIR = Path(env_str("MEDIAHUB_WORK_DIR", str(DATA_DIR / "work")))

# --- security --------------------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
MEDIAHUB_CSP = env_str("MEDIAHUB_CSP", "")  # replaces the default Content-Security-Policy when set
if PRODUCTION:
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# json: one JSON object per line (production's default); plain: text with the same fields as key=value.
MEDIAHUB_LOG_FORMAT = env_str("MEDIAHUB_LOG_FORMAT") or ("json" if PRODUCTION else "plain")
if MEDIAHUB_LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"MEDIAHUB_LOG_FORMAT must be json or plain, got {MEDIAHUB_LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "mediahub.logs.ContextFilter"}},
    "formatters": {
        "plain": {"()": "mediahub.logs.PlainFormatter"},
        "json": {"()": "mediahub.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": MEDIAHUB_LOG_FORMAT, "filters": ["context"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # httpx logs every URL at INFO; user URLs (webhooks, imports) may carry tokens in their query.
    "loggers": {"django.channels.server": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
