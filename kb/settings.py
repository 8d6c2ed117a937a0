"""Settings for the post-mortem knowledge base, read from the environment.

One module, as in Healthchecks' ``hc/settings.py``: every value comes from an
environment variable with a safe default. The embedded default (no variables set)
is a SQLite file and in-process background tasks, so nothing needs a server.

Variables:
    DEBUG           "1"/"true" turns on debug pages (default off).
    SECRET_KEY      required when DEBUG is off.
    ALLOWED_HOSTS   comma-separated host names (default: localhost names).
    DATABASE_URL    e.g. postgres://postgres@127.0.0.1:5432/kb (default: SQLite db.sqlite3).
    REDIS_URL       e.g. redis://127.0.0.1:6379/0; unset = tasks run in-process.
    SITE_URL        absolute base URL used in e-mails (default http://127.0.0.1:8000).
    EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS,
    DEFAULT_FROM_EMAIL   SMTP settings; without EMAIL_HOST mail is printed to the console.
    HTTPS           "1" when served behind TLS: secure cookies, HSTS, SSL redirect.
    NUM_PROXIES     reverse proxies in front of the app (default 0): decides the client
                    address used by login lockouts, API throttles and request logs.
    STATIC_ROOT     where collectstatic writes (default ./staticfiles).
    STATIC_MANIFEST "1": hashed, compressed static files (default: on when HTTPS is on;
                    needs collectstatic).
    AXES_FAILURE_LIMIT, AXES_COOLOFF_MINUTES   login lockout after N failures for one
                    username from one address, for M minutes (default 5, 15).
    API_USER_RATE, API_ANON_RATE   DRF throttle rates (default 6000/hour, 300/hour).
    CACHE_URL       redis://... to share throttle counters between processes (default:
                    per-process memory).
    CSP_REPORT_URI  where browsers report Content-Security-Policy violations (default none).
    LOG_FORMAT      "json" for one JSON object per line (default plain text).
    LOG_LEVEL       root log level (default WARNING); LOG_REQUESTS "1" logs every request
                    (default on with LOG_FORMAT=json).
    DATABASE_CONN_MAX_AGE, DATABASE_CONNECT_TIMEOUT   seconds (default 0, 5).
"""

import os
from datetime import timedelta as _timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab as _crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable as a list of non-empty strings."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    """Read an integer environment variable, failing loudly on a non-integer."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "simple_history",
    "operations",
    "postmortems",
    "integrations.github",
    "followthrough",
    "patterns",
    "insights",
    "reviews",
]

MIDDLEWARE = [
    # First, so its duration covers the whole stack and it logs redirects too.
    "operations.requestlog.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Lets django-simple-history record the signed-in user on every history row.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last (django-axes' docs): turns a lockout raised during login into a 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kb.urls"
WSGI_APPLICATION = "kb.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions + WAL avoid "database is locked" when a read later
    # writes (see shared/RELIABILITY.md §3.7, measured on Django 5.2).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable database fails /healthz and requests in seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one
# username from one address, that pair is refused (even with the right password)
# for AXES_COOLOFF_MINUTES. Keyed on the pair, so an attacker cannot lock a user
# out from elsewhere, nor try many passwords from one address. The standalone
# backend only checks the lockout; ModelBackend checks the password. Every login
# must go through authenticate(request=..., ...) (the test client: force_login).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = _timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "operations.network.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password"]
# Axes answers XMLHttpRequest lockouts with CORS headers; never "*".
AXES_ALLOWED_CORS_ORIGINS = SITE_URL

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Production (HTTPS on): `manage.py collectstatic` writes content-hashed, compressed
# files that WhiteNoise serves with far-future cache headers; without it, files are
# served from the source folders as they are.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", env_bool("HTTPS", False))
if STATIC_MANIFEST:
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "postmortems:list"
LOGOUT_REDIRECT_URL = "login"

# Size limits: a one-page document does not need more, and bounded input keeps
# rendering and search cheap (OWASP API4).
KB_MAX_SECTION_CHARS = env_int("KB_MAX_SECTION_CHARS", 20_000)
KB_MAX_ROWS_PER_DOCUMENT = env_int("KB_MAX_ROWS_PER_DOCUMENT", 200)
# Readiness check: how many action items a post-mortem should end with.
KB_READINESS_MIN_ACTIONS = env_int("KB_READINESS_MIN_ACTIONS", 3)
KB_READINESS_MAX_ACTIONS = env_int("KB_READINESS_MAX_ACTIONS", 5)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5_000

# --- Security headers and cookies -------------------------------------------
HTTPS = env_bool("HTTPS", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # "__Host-" cookies are only accepted over HTTPS, for this exact host, path "/":
    # a sibling subdomain cannot plant or overwrite them (OWASP ASVS 5.0, 3.3.1).
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
# Probes may call the app directly over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^livez$", r"^healthz$"]

# Content-Security-Policy (django-csp 4.0): scripts and styles only from our own
# static files; no inline <script>, event-handler attribute, style attribute or
# javascript: URL runs even if one got past the Markdown sanitiser (the policy is
# a second layer, RELIABILITY.md §4.2). img-src allows https: because Markdown may
# show https images; no data: (nothing of ours needs it, the sanitiser drops it).
# The API docs pages loosen it for themselves only (kb/apidocs.py).
_CSP_DIRECTIVES = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "https:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
if HTTPS:
    _CSP_DIRECTIVES["upgrade-insecure-requests"] = True
if os.environ.get("CSP_REPORT_URI"):
    _CSP_DIRECTIVES["report-uri"] = [os.environ["CSP_REPORT_URI"]]
CONTENT_SECURITY_POLICY = {"DIRECTIVES": _CSP_DIRECTIVES}

# --- REST API ------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so an anonymous call gets 401 with "WWW-Authenticate: Token".
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # kb/parsers.py: DRF's parsers, refusing NUL (PostgreSQL text cannot hold it).
    "DEFAULT_PARSER_CLASSES": [
        "kb.parsers.JSONParser",
        "kb.parsers.FormParser",
        "kb.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "postmortems.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Anti-automation (ASVS 2.4.1), not a security boundary: DRF's counters live in
    # the cache (per process unless CACHE_URL is set) and are not atomic.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_ANON_RATE", "300/hour"),
        "user": os.environ.get("API_USER_RATE", "6000/hour"),
    },
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Post-mortem knowledge base API",
    "DESCRIPTION": (
        "Blameless post-mortems, their action items, contributing factors and fix "
        "pull requests. Authenticate with a session or `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two models have a "status" field with different choices.
    "ENUM_NAME_OVERRIDES": {
        "PostMortemStatusEnum": "postmortems.models.PostMortem.Status",
        "ActionItemStatusEnum": "postmortems.models.ActionItem.Status",
        # reviews app
        "ReviewStatusEnum": "reviews.models.Review.Status",
        "ReviewNoteKindEnum": "reviews.models.ReviewNote.Kind",
        "PostMortemSectionEnum": "postmortems.onepager.SECTION_FIELDS",
        "FindingSectionEnum": "postmortems.writing_aids.FINDING_SECTIONS",
        # patterns app
        "DoDProposalStatusEnum": "patterns.models.DoDProposal.Status",
        "DoDProposalKindEnum": "patterns.models.DoDProposal.Kind",
        "DoDScopeEnum": "patterns.models.Scope",
        # DoDProposal.Kind made "kind" ambiguous; name the action-item one explicitly.
        "ActionItemKindEnum": "postmortems.models.ActionItem.Kind",
    },
    # kb/openapi.py: the error answers every view can give, and "URI or empty".
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kb.openapi.add_common_error_responses",
        "kb.openapi.allow_blank_urls",
    ],
}

# Throttle counters (and any other cache use) are per process by default; CACHE_URL
# (redis://...) shares them between processes and machines. Kept apart from
# REDIS_URL on purpose: a cache outage then fails API requests, so opt in.
if os.environ.get("CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["CACHE_URL"],
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

# --- Background work (Celery) ----------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
# Without Redis, run tasks in-process so the embedded default needs no server.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 600  # below the visibility timeout, so no double delivery
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A down or hung Redis must not hang a web request (RELIABILITY.md finding 6).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 1,
    "visibility_timeout": 3600,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Beat uses the server's time zone for crontab entries (the daily digest hour).
CELERY_TIMEZONE = TIME_ZONE

# --- Follow-through and the GitHub webhook (followthrough, integrations.github) -----
# GitHub webhook secret (HMAC-SHA256 of the body); unset = every delivery is refused.
# During a rotation put the old one in GITHUB_WEBHOOK_PREVIOUS_SECRET.
GITHUB_WEBHOOK_SECRET = os.environ.get("GITHUB_WEBHOOK_SECRET", "")
GITHUB_WEBHOOK_PREVIOUS_SECRET = os.environ.get("GITHUB_WEBHOOK_PREVIOUS_SECRET", "")
# Hosts whose pull-request URLs the webhook accepts (add a GitHub Enterprise host).
GITHUB_HOSTS = [host.lower() for host in env_list("GITHUB_HOSTS", "github.com")]
GITHUB_DELIVERY_MAX_ATTEMPTS = env_int("GITHUB_DELIVERY_MAX_ATTEMPTS", 5)
GITHUB_DELIVERY_RETENTION_DAYS = env_int("GITHUB_DELIVERY_RETENTION_DAYS", 30)
# Hour (TIME_ZONE) of the daily digest; the sweep starts a day's digests that
# beat could not (broker down at that hour) any time after it.
FOLLOWTHROUGH_DIGEST_HOUR = env_int("FOLLOWTHROUGH_DIGEST_HOUR", 7)
# The sweep re-enqueues work a broker outage left in the database (owner notices,
# webhook deliveries, the day's digests) every SWEEP_INTERVAL_SECONDS, for rows
# older than SWEEP_GRACE_SECONDS.
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 300)
SWEEP_GRACE_SECONDS = env_int("SWEEP_GRACE_SECONDS", 60)
# Team digests may only be posted to these hosts (SSRF guard).
SLACK_WEBHOOK_HOSTS = [host.lower() for host in env_list("SLACK_WEBHOOK_HOSTS", "hooks.slack.com")]
SLACK_TIMEOUT_SECONDS = env_int("SLACK_TIMEOUT_SECONDS", 5)
# One beat process only (Celery's docs); digests are idempotent in the database anyway.
CELERY_BEAT_SCHEDULE = globals().get("CELERY_BEAT_SCHEDULE", {})
CELERY_BEAT_SCHEDULE["followthrough-daily-digests"] = {
    "task": "followthrough.send_daily_digests",
    "schedule": _crontab(hour=FOLLOWTHROUGH_DIGEST_HOUR, minute=0),
}
CELERY_BEAT_SCHEDULE["followthrough-sweep"] = {
    "task": "followthrough.sweep",
    "schedule": float(SWEEP_INTERVAL_SECONDS),
    "options": {"expires": float(SWEEP_INTERVAL_SECONDS)},  # a late sweep is replaced by the next
}
CELERY_BEAT_SCHEDULE["github-sweep-deliveries"] = {
    "task": "integrations.github.sweep_deliveries",
    "schedule": float(SWEEP_INTERVAL_SECONDS),
    "options": {"expires": float(SWEEP_INTERVAL_SECONDS)},
}

# --- Pattern detection (patterns app) ----------------------------------------------
# K post-mortems with one contributing factor inside W days make a recurring
# pattern; teams can set their own K and W (patterns.PatternSettings).
PATTERNS_MIN_INCIDENTS = env_int("PATTERNS_MIN_INCIDENTS", 3)
PATTERNS_WINDOW_DAYS = env_int("PATTERNS_WINDOW_DAYS", 90)
# Organisation-wide: K post-mortems from at least PATTERNS_ORG_MIN_TEAMS teams in W days.
PATTERNS_ORG_MIN_INCIDENTS = env_int("PATTERNS_ORG_MIN_INCIDENTS", 3)
PATTERNS_ORG_WINDOW_DAYS = env_int("PATTERNS_ORG_WINDOW_DAYS", 90)
PATTERNS_ORG_MIN_TEAMS = env_int("PATTERNS_ORG_MIN_TEAMS", 2)
# Nightly detection at PATTERNS_DETECT_HOUR:15 (TIME_ZONE); idempotent, so a
# second beat or a retry is harmless. Merged into any schedule defined above.
CELERY_BEAT_SCHEDULE = globals().get("CELERY_BEAT_SCHEDULE", {})
CELERY_BEAT_SCHEDULE["patterns-detect-nightly"] = {
    "task": "patterns.detect_all",
    "schedule": _crontab(hour=env_int("PATTERNS_DETECT_HOUR", 3), minute=15),
}
# Reviews: re-send end-of-review summaries a broker outage left unsent (idempotent).
CELERY_BEAT_SCHEDULE["reviews-sweep-owner-summaries"] = {
    "task": "reviews.sweep_owner_summaries",
    "schedule": float(SWEEP_INTERVAL_SECONDS),
    "options": {"expires": float(SWEEP_INTERVAL_SECONDS)},
}

# --- Insights (insights app) -------------------------------------------------------
# Review target: business days (Mon–Fri) from resolution to review; quality budget:
# at most INSIGHTS_BUDGET_MAX_OVERDUE overdue action items per team, and none from a
# SEV1/SEV2 post-mortem more than INSIGHTS_BUDGET_SEVERE_GRACE_DAYS past due. A team
# can override these in the admin (insights.TeamTargets). See insights/conf.py.
INSIGHTS_REVIEW_TARGET_BUSINESS_DAYS = env_int("INSIGHTS_REVIEW_TARGET_BUSINESS_DAYS", 5)
INSIGHTS_BUDGET_MAX_OVERDUE = env_int("INSIGHTS_BUDGET_MAX_OVERDUE", 20)
INSIGHTS_BUDGET_SEVERE_GRACE_DAYS = env_int("INSIGHTS_BUDGET_SEVERE_GRACE_DAYS", 7)
INSIGHTS_DEFAULT_MONTHS = env_int("INSIGHTS_DEFAULT_MONTHS", 12)
# Computed organisation/team figures are kept this many seconds in the cache (0: never).
INSIGHTS_CACHE_SECONDS = env_int("INSIGHTS_CACHE_SECONDS", 300)
# The default organisation page is precomputed this often (insights/snapshots.py; 0: never).
INSIGHTS_SNAPSHOT_SECONDS = env_int("INSIGHTS_SNAPSHOT_SECONDS", 300)
CELERY_BEAT_SCHEDULE = globals().get("CELERY_BEAT_SCHEDULE", {})
if INSIGHTS_SNAPSHOT_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["insights-refresh-snapshots"] = {
        "task": "insights.refresh_snapshots",
        "schedule": float(INSIGHTS_SNAPSHOT_SECONDS),
        "options": {"expires": float(INSIGHTS_SNAPSHOT_SECONDS)},  # a late run is replaced by the next
    }

# --- E-mail ------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "postmortems@localhost")
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# Logs go to stderr, one event per line: plain text by default (`make run`), or JSON
# objects with LOG_FORMAT=json (python-json-logger) for a log shipper. Every line
# carries request_id (and task_id in Celery workers); with LOG_REQUESTS each
# request adds one "kb.request" line (operations.requestlog).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
LOG_REQUESTS = env_bool("LOG_REQUESTS", LOG_FORMAT == "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "operations.requestlog.RequestContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        "postmortems": {"level": os.environ.get("LOG_LEVEL", "INFO")},
        "kb.request": {"level": "INFO" if LOG_REQUESTS else "WARNING"},
        "kb.health": {"level": "INFO"},
        # Failed logins and lockouts are WARNINGs with username and address (ASVS V16).
        "axes": {"level": "WARNING"},
    },
}
# With JSON logs, keep Celery from replacing the handlers above, so workers log JSON
# too (set LOG_LEVEL=INFO for the worker's own lines then).
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
