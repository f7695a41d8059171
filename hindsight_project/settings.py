"""Every setting of the service, read from the environment in this one place.

App code reads ``django.conf.settings``; nothing else touches ``os.environ``. The typed helpers
raise ``ImproperlyConfigured`` on a value they cannot parse, so a typo fails at start-up, not at
the first request that needs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_secret_file(name: str) -> str:
    """The stripped contents of the file named by env var ``name`` ('' when unset), so secrets
    can come from a mounted file instead of the process environment."""
    path = os.environ.get(name, "").strip()
    if not path:
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}={path!r} cannot be read: {exc}") from None


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as ``600/min``; '' or ``off`` disables the throttle."""
    value = env_str(name, default).strip()
    if value.lower() in ("", "off", "none"):
        return ""
    count, _, period = value.partition("/")
    if not count.isdigit() or not period or period[0] not in "smhd":
        raise ImproperlyConfigured(f"{name} must look like 600/min (or off), got {value!r}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


# --- Core Django -----------------------------------------------------------------------------
DEFAULT_SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"
SECRET_KEY = env_str("SECRET_KEY", "") or env_secret_file("SECRET_KEY_FILE") or DEFAULT_SECRET_KEY
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "banks",
    "operations",
]

MIDDLEWARE = [
    # First: its line and X-Request-ID cover every answer, the 413s below included.
    "hindsight_project.request_log.RequestLogMiddleware",
    "hindsight_project.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves admin and Swagger UI assets from the app itself: no CDN, no separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hindsight_project.urls"
WSGI_APPLICATION = "hindsight_project.wsgi.application"
APPEND_SLASH = False

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

# --- Database ---------------------------------------------------------------------------------
DATA_DIR = Path(env_str("HINDSIGHT_DATA_DIR", str(BASE_DIR / "data")))
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'hindsight.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", DEFAULT_DATABASE_URL)
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None

if _db["ENGINE"] == "django.db.backends.sqlite3":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["ENGINE"] = "hindsight_project.sqlite_backend"  # adds a fair write gate; see there
    _db["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so
        # two writers queue on the busy timeout instead of failing with "database is locked"
        # when a deferred transaction tries to upgrade its read lock.
        "timeout": env_float("HINDSIGHT_SQLITE_TIMEOUT", 30.0, minimum=0),
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
            "PRAGMA cache_size=-20000;"
        ),
    }
    # Tests need a real file (threads of the embedded executor share it), not :memory:.
    _db["TEST"] = {"NAME": str(Path(_db["NAME"]).with_name("test_" + Path(_db["NAME"]).name))}
DATABASES = {"default": _db}
DATABASE_IS_SQLITE = _db["ENGINE"] == "hindsight_project.sqlite_backend"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Static, i18n -------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start without it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Without collectstatic (tests, a fresh checkout) WhiteNoise finds files through the finders.
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- REST framework and schema ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "hindsight_project.negotiation.CommonCaseNegotiation",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Security (issue 9): Bearer API keys, required once any key exists; per-key throttling.
    "DEFAULT_AUTHENTICATION_CLASSES": ["hindsight_project.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["hindsight_project.auth.ApiKeyRequired"],
    "DEFAULT_THROTTLE_CLASSES": ["hindsight_project.throttling.ApiKeyRateThrottle"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Native endpoints grouped by resource in the Swagger UI, with one-line summaries.
    "DEFAULT_SCHEMA_CLASS": "hindsight_project.schema.ResourceAutoSchema",
    "EXCEPTION_HANDLER": "hindsight_project.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hindsight Operations API",
    "DESCRIPTION": "Memory banks for AI agents and the background operations behind them.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Hindsight-compatible surface: its status vocabulary (processing, not_found) as named enums
    # beside the native one, so no status enum gets a hashed name.
    "ENUM_NAME_OVERRIDES": {
        "OperationStatusEnum": "operations.states.OperationStatus",
        "CompatOperationStatusEnum":
            "hindsight_project.compat.operation_serializers.COMPAT_STATUSES",
        "CompatOperationStatusOrNotFoundEnum":
            "hindsight_project.compat.operation_serializers.COMPAT_STATUSES_OR_NOT_FOUND",
    },
}

# --- Hindsight knobs ----------------------------------------------------------------------------
HINDSIGHT_VERSION = "0.1.0"
HINDSIGHT_EXECUTOR = env_choice("HINDSIGHT_EXECUTOR", "embedded", ("embedded", "rq"))
HINDSIGHT_WORKERS = env_int("HINDSIGHT_WORKERS", 2, minimum=1)
HINDSIGHT_CHUNK_SIZE = env_int("HINDSIGHT_CHUNK_SIZE", 1000, minimum=1)
HINDSIGHT_CHUNK_SECONDS = env_float("HINDSIGHT_CHUNK_SECONDS", 0.25, minimum=0.001)
HINDSIGHT_STALE_AFTER = env_float("HINDSIGHT_STALE_AFTER", 30.0, minimum=0.1)
HINDSIGHT_MAX_ATTEMPTS = env_int("HINDSIGHT_MAX_ATTEMPTS", 3, minimum=1)
HINDSIGHT_SWEEP_INTERVAL = env_float("HINDSIGHT_SWEEP_INTERVAL", 5.0, minimum=0.05)
HINDSIGHT_DISPATCH_GRACE = env_float("HINDSIGHT_DISPATCH_GRACE", 10.0, minimum=0)
HINDSIGHT_MAX_BATCH_ITEMS = env_int("HINDSIGHT_MAX_BATCH_ITEMS", 10_000, minimum=1)
HINDSIGHT_MAX_CONTENT_BYTES = env_int("HINDSIGHT_MAX_CONTENT_BYTES", 1_000_000, minimum=1)
HINDSIGHT_MAX_BODY_BYTES = env_int("HINDSIGHT_MAX_BODY_BYTES", 64 * 1024 * 1024, minimum=1024)
HINDSIGHT_MAX_WAIT_SECONDS = 60
HINDSIGHT_RETENTION_DAYS = env_int("HINDSIGHT_RETENTION_DAYS", 30, minimum=0)  # 0: keep forever
HINDSIGHT_REQUIRE_AUTH = env_bool("HINDSIGHT_REQUIRE_AUTH", False)

# --- Memory engine (issue 6): graph_update links --------------------------------------------------
# Links kept per memory (top K by weight).
HINDSIGHT_GRAPH_TOP_K = env_int("HINDSIGHT_GRAPH_TOP_K", 10, minimum=1)
# Entities mentioned by more memories than this are too common to link on: every pair of their
# memories would be a candidate (quadratic), and they say little about relatedness.
HINDSIGHT_GRAPH_MAX_FANOUT = env_int("HINDSIGHT_GRAPH_MAX_FANOUT", 1000, minimum=2)

# Django's own body limit must match ours, so an oversized body becomes our 413, not its 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = HINDSIGHT_MAX_BODY_BYTES

# --- Redis / RQ (scale-out) ---------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
HINDSIGHT_JOB_TIMEOUT = env_int("HINDSIGHT_JOB_TIMEOUT", 6 * 3600, minimum=1)
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": HINDSIGHT_JOB_TIMEOUT},
}

# --- Scale-out: RQ transport, heartbeat, reaper, outbox (issue 4) -------------------------------
# RQ keeps a finished job's return value this long; the database holds the real result.
HINDSIGHT_RQ_RESULT_TTL = env_int("HINDSIGHT_RQ_RESULT_TTL", 60, minimum=0)
HINDSIGHT_RQ_FAILURE_TTL = env_int("HINDSIGHT_RQ_FAILURE_TTL", 24 * 3600, minimum=1)
# Socket timeouts of the API side's Redis connection: a submit never hangs on a dead Redis,
# it falls back to the outbox sweep.
HINDSIGHT_REDIS_TIMEOUT = env_float("HINDSIGHT_REDIS_TIMEOUT", 3.0, minimum=0.1)
# A running operation proves liveness this often even inside a slow chunk (<= STALE_AFTER / 3).
HINDSIGHT_HEARTBEAT_INTERVAL = env_float(
    "HINDSIGHT_HEARTBEAT_INTERVAL", min(5.0, HINDSIGHT_STALE_AFTER / 3), minimum=0.05
)
# A cancelled operation whose RQ job is still executing this long after the cancel gets RQ's
# stop-job command (the worker normally stops by itself at its next chunk boundary).
HINDSIGHT_CANCEL_GRACE = env_float("HINDSIGHT_CANCEL_GRACE", 10.0, minimum=0)
# Extra modules that register job types (imported after the built-in ones; may replace one).
HINDSIGHT_JOB_MODULES = env_list("HINDSIGHT_JOB_MODULES", [])
# A plain `manage.py rqworker` runs our worker class (RQ's worker + the liveness sweeper).
RQ = {"WORKER_CLASS": "operations.rq_worker.HindsightWorker"}

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    # hindsight.request logs one line per request (hindsight_project/request_log.py); Django's
    # WARNING for every 4xx would repeat it without the request id. 5xx stay logged here.
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- Security and hardening (issue 9; docs/security.md) ------------------------------------------
# Generous defaults: the test suite and benchmarks (10,000-item batches, 100 ms polling) never
# reach them; operators tighten them per deployment.
HINDSIGHT_THROTTLE_RATE = env_rate("HINDSIGHT_THROTTLE_RATE", "20000/min")
HINDSIGHT_ANON_THROTTLE_RATE = env_rate("HINDSIGHT_ANON_THROTTLE_RATE", "20000/min")
HINDSIGHT_MAX_METADATA_BYTES = env_int("HINDSIGHT_MAX_METADATA_BYTES", 64 * 1024, minimum=2)
HINDSIGHT_MAX_TAGS = env_int("HINDSIGHT_MAX_TAGS", 100, minimum=0)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (opt-in: trusting the header
# without such a proxy would let any client claim https).
HINDSIGHT_BEHIND_TLS_PROXY = env_bool("HINDSIGHT_BEHIND_TLS_PROXY", False)
if HINDSIGHT_BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Secure cookies only where TLS is known, so the admin still logs in on plain-http loopback.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool(
    "HINDSIGHT_SECURE_COOKIES", HINDSIGHT_BEHIND_TLS_PROXY
)
SESSION_COOKIE_HTTPONLY = True
# SecurityMiddleware sends HSTS on secure requests only, so this is inert on plain http.
SECURE_HSTS_SECONDS = env_int("HINDSIGHT_HSTS_SECONDS", 31_536_000, minimum=0)
SECURE_SSL_REDIRECT = env_bool("HINDSIGHT_SSL_REDIRECT", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Refusing to serve on the default key happens where serving starts (hindsight_project/wsgi.py,
# production.refuse_insecure_start), so tests and manage.py need no secret; HINDSIGHT_PRODUCTION=1
# makes even settings import refuse.
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY and env_bool("HINDSIGHT_PRODUCTION", False):
    raise ImproperlyConfigured("SECRET_KEY must be set in production (HINDSIGHT_PRODUCTION=1)")

# --- Webhooks (issue 14; docs/webhooks.md) -------------------------------------------------
# One attempt may take this long (connect + answer) before it counts as failed and is retried.
HINDSIGHT_WEBHOOK_TIMEOUT = env_float("HINDSIGHT_WEBHOOK_TIMEOUT", 10.0, minimum=0.1)
# Seconds after each failed attempt before the next one (+-10 % jitter); one more attempt than
# entries, then the delivery is failed. The default is the public server's: six attempts.
try:
    HINDSIGHT_WEBHOOK_RETRY_SCHEDULE = [
        float(part) for part in env_list(
            "HINDSIGHT_WEBHOOK_RETRY_SCHEDULE", ["5", "300", "1800", "7200", "18000"]
        )
    ]
except ValueError:
    raise ImproperlyConfigured(
        "HINDSIGHT_WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, e.g. 5,300,1800"
    ) from None
# Deliver to loopback/private/link-local addresses too (development, tests, private networks).
HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = env_bool("HINDSIGHT_WEBHOOK_ALLOW_PRIVATE", False)
HINDSIGHT_MAX_WEBHOOKS_PER_BANK = env_int("HINDSIGHT_MAX_WEBHOOKS_PER_BANK", 20, minimum=1)
# How often a delivery loop looks for due deliveries when nothing in its process woke it.
HINDSIGHT_WEBHOOK_POLL_INTERVAL = env_float("HINDSIGHT_WEBHOOK_POLL_INTERVAL", 0.25, minimum=0.05)
# Concurrent sends per process: one hanging receiver never holds up the others.
HINDSIGHT_WEBHOOK_CONCURRENCY = env_int("HINDSIGHT_WEBHOOK_CONCURRENCY", 4, minimum=1)

# --- Scheduling (issue 16) ----------------------------------------------------------------------
# Fair dispatch across banks (docs/scheduling.md); off: plain submission order (FIFO).
HINDSIGHT_FAIR_SCHEDULING = env_bool("HINDSIGHT_FAIR_SCHEDULING", True)
# Operations handed to RQ ahead of the workers that will run them (0: one per live worker).
HINDSIGHT_DISPATCH_AHEAD = env_int("HINDSIGHT_DISPATCH_AHEAD", 0, minimum=0)
# Automatic retry of transient errors: base delays (seconds) of retry 1, 2, 3...; the last one
# repeats. Each actual delay is drawn uniformly from [0, base] (full jitter).
HINDSIGHT_RETRY_SCHEDULE = [
    float(step) for step in env_list("HINDSIGHT_RETRY_SCHEDULE", ["5", "30", "120"])
]
HINDSIGHT_MAX_RETRIES = env_int("HINDSIGHT_MAX_RETRIES", 3, minimum=0)
# Wall-clock limit of one run, in seconds (0: none), and per operation type.
HINDSIGHT_TIME_LIMIT = env_float("HINDSIGHT_TIME_LIMIT", 0.0, minimum=0)
HINDSIGHT_TIME_LIMITS = {
    op_type: env_float(f"HINDSIGHT_TIME_LIMIT_{op_type.upper()}", HINDSIGHT_TIME_LIMIT, minimum=0)
    for op_type in ("batch_retain", "file_retain", "graph_update", "regenerate_observations")
}
# How often the sweeper prunes terminal operations older than HINDSIGHT_RETENTION_DAYS.
HINDSIGHT_PRUNE_INTERVAL = env_float("HINDSIGHT_PRUNE_INTERVAL", 3600.0, minimum=1)

# --- Outages (issue 17; docs/scale-out.md "Outages") -------------------------------------------
# An RQ worker that lost Redis probes it again after this many seconds, doubling (with jitter)
# up to the maximum; it keeps running its current operation and reaping meanwhile.
HINDSIGHT_REDIS_BACKOFF_INITIAL = env_float("HINDSIGHT_REDIS_BACKOFF_INITIAL", 0.5, minimum=0.01)
HINDSIGHT_REDIS_BACKOFF_MAX = env_float(
    "HINDSIGHT_REDIS_BACKOFF_MAX", 30.0, minimum=HINDSIGHT_REDIS_BACKOFF_INITIAL
)
# While the database is unreachable the API answers 503 with this Retry-After (seconds).
HINDSIGHT_DB_RETRY_AFTER = env_int("HINDSIGHT_DB_RETRY_AFTER", 5, minimum=1)
# Innermost, so that it sees view exceptions (process_exception) before any other middleware.
MIDDLEWARE = [*MIDDLEWARE, "hindsight_project.middleware.DatabaseUnavailableMiddleware"]

# --- Read path (issue 15) -----------------------------------------------------------------------
# `make run` serves with this many gunicorn processes (default: one per core), each with
# HINDSIGHT_WEB_THREADS threads; every process runs the embedded executor.
HINDSIGHT_WEB_PROCESSES = env_int("HINDSIGHT_WEB_PROCESSES", os.cpu_count() or 1, minimum=1)
HINDSIGHT_WEB_THREADS = env_int("HINDSIGHT_WEB_THREADS", 16, minimum=1)
# The executors' cross-process doorbell (an eventfd the gunicorn master creates before forking;
# set by hindsight_project/gunicorn_conf.py, not by hand). 0: single process, no doorbell.
HINDSIGHT_DOORBELL_FD = env_int("HINDSIGHT_DOORBELL_FD", 0, minimum=0)
# Long-polls (`?wait=`) waiting at once per process; past it a request answers at once with
# the current state (as with wait=0) instead of holding a thread.
HINDSIGHT_MAX_WAITERS = env_int("HINDSIGHT_MAX_WAITERS", 8, minimum=0)
# How long a process trusts its cached "does any active API key exist" answer before it checks
# the key table's version again (one indexed read); creating or revoking a key bumps it.
HINDSIGHT_KEY_CACHE_SECONDS = env_float("HINDSIGHT_KEY_CACHE_SECONDS", 1.0, minimum=0)
# SQLite connections are kept open between requests (per server thread) instead of being opened,
# and set up with their PRAGMAs, for every request: for a status poll that was a third of it.
if DATABASE_IS_SQLITE:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("HINDSIGHT_SQLITE_CONN_MAX_AGE", 300, minimum=0)

# --- Files (issue 21) ----------------------------------------------------------------------------
# Uploaded documents (POST /api/banks/{id}/files/, compat files/retain): each file is one unit of
# a file_retain operation. Its bytes live in the database (banks.UploadedFile), which every
# executor and every RQ worker already reaches, until the file is processed or the operation
# record is deleted.
HINDSIGHT_MAX_FILE_BYTES = env_int("HINDSIGHT_MAX_FILE_BYTES", 20 * 1024 * 1024, minimum=1)
HINDSIGHT_MAX_FILES_PER_REQUEST = env_int("HINDSIGHT_MAX_FILES_PER_REQUEST", 100, minimum=1)
# Extraction bounds per file: wall-clock seconds (checked between pages and paragraphs), the
# characters of text it may yield, the pages a PDF declares, and the unpacked size of a DOCX
# (a zip) before it is opened.
HINDSIGHT_FILE_TIME_LIMIT = env_float("HINDSIGHT_FILE_TIME_LIMIT", 60.0, minimum=0.01)
HINDSIGHT_MAX_FILE_TEXT_CHARS = env_int("HINDSIGHT_MAX_FILE_TEXT_CHARS", 5_000_000, minimum=1)
HINDSIGHT_MAX_FILE_PAGES = env_int("HINDSIGHT_MAX_FILE_PAGES", 5000, minimum=1)
HINDSIGHT_MAX_FILE_UNPACKED_BYTES = env_int(
    "HINDSIGHT_MAX_FILE_UNPACKED_BYTES", 100 * 1024 * 1024, minimum=1024
)
# A file's text becomes memories of at most this many characters, cut at headings and
# paragraphs first.
HINDSIGHT_FILE_MEMORY_CHARS = env_int("HINDSIGHT_FILE_MEMORY_CHARS", 2000, minimum=100)
# Django stops parsing a multipart body at this many files (our 413, not its 400).
DATA_UPLOAD_MAX_NUMBER_FILES = HINDSIGHT_MAX_FILES_PER_REQUEST
