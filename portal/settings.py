"""Settings for the Integration Portal.

Everything is read through django-environ from the environment or a `.env` file at
the project root (`.env.example` documents every variable). The defaults let a fresh
checkout run on SQLite with nothing installed; production sets DATABASE_URL,
REDIS_URL, SECRET_KEY and CREDENTIAL_KEYS.
"""

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env "
            "(see .env.example); the portal refuses to start without it when DEBUG is off."
        )
    SECRET_KEY = "insecure-development-only-key"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "portal.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal",
    "portal.web",
    "integrations",
    "connections",
    "connections.webhooks",
    "portal.api",
]

MIDDLEWARE = [
    "portal.api.correlation.CorrelationIdMiddleware",
    "portal.api.throttling.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.web.timezones.ViewerTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.roles",
            ],
        },
    },
]

# Database: a SQLite file under var/ by default, PostgreSQL via DATABASE_URL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the workers and the sandbox-driven tests write at once:
    # WAL lets readers and one writer proceed together, IMMEDIATE takes the write
    # lock up front so transactions wait for it instead of failing mid-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / "test.sqlite3")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes' backend first: it refuses a locked-out username or address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "connections:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# HTTPS hardening: on by default, off for plain-HTTP local runs (make run sets HTTPS=false).
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.debug.AlwaysSafeExceptionReporterFilter"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp) on every response: everything from the portal itself, no
# inline script or style anywhere (templates use classes and static JS), no framing. The one
# exception is the API docs page (portal.api_urls): Swagger UI's stylesheet draws its icons
# as data: images, so that page alone adds `img-src data:`.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Login throttling (django-axes): LOGIN_FAILURE_LIMIT failed logins for one username (from
# anywhere), or from one client address (for any username), lock that username or address for
# LOGIN_LOCKOUT_MINUTES after the latest failure; the login page says until when
# (portal.login.locked_out). The address is the one the Link limits use (TRUSTED_PROXY_COUNT).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "portal.web.addresses.client_ip"
AXES_LOCKOUT_CALLABLE = "portal.login.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no start-up banner in every process's log; each login is still logged, in one line
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]  # masked in what axes logs and keeps

# Where the portal is reached from outside: Link URLs printed by commands are absolute.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Credentials: Fernet keys, comma-separated. The first encrypts, all decrypt.
# Without any, a development checkout (DEBUG on) derives a key from SECRET_KEY; with DEBUG off
# the portal refuses to start without its own keys (no secret is ever a default in production).
CREDENTIAL_KEYS = env.list("CREDENTIAL_KEYS", default=[])
CREDENTIAL_KEYS_DERIVED = not CREDENTIAL_KEYS
if CREDENTIAL_KEYS_DERIVED and not DEBUG:
    raise ImproperlyConfigured(
        "CREDENTIAL_KEYS is not set. Generate a key with `DEBUG=true python manage.py generate_credential_key` "
        "and set it in the environment or in .env; the portal refuses to start without it when DEBUG is off."
    )
if CREDENTIAL_KEYS_DERIVED:
    CREDENTIAL_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(("credentials:" + SECRET_KEY).encode()).digest()).decode()
    ]

# Link pages. Only failed attempts (a refused key) count against the limits, per Link URL
# and, much higher because an office or a load balancer shares one, per client address.
LINK_TOKEN_TTL_HOURS = env.int("LINK_TOKEN_TTL_HOURS", default=24 * 7)
LINK_RATE_LIMIT = env.int("LINK_RATE_LIMIT", default=10)
LINK_ADDRESS_RATE_LIMIT = env.int("LINK_ADDRESS_RATE_LIMIT", default=50)
LINK_RATE_WINDOW_MINUTES = env.int("LINK_RATE_WINDOW_MINUTES", default=15)

# How many reverse proxies (load balancers) stand in front of the portal, each appending
# the address it was reached from to X-Forwarded-For. 0: the client is REMOTE_ADDR and the
# header is ignored (a client can write anything in it).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more (the number of proxies in front of the portal).")

# Django-Q2
# A pull never runs longer than PULL_TIMEOUT seconds; the queue re-offers a task only
# after `retry` seconds, which must exceed `timeout` so one task never runs twice at once.
PULL_TIMEOUT = env.int("PULL_TIMEOUT", default=1800)
REDIS_URL = env.str("REDIS_URL", default="")
# Every process of one portal (web and every qcluster) must share Q_CLUSTER_NAME: it names
# the Redis queue and salts the signed tasks. django-q2 reads the same variable itself.
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="portal"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": PULL_TIMEOUT,
    "retry": PULL_TIMEOUT + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.5,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Health check (/healthz): the worker is taken for dead when no django-q task has finished
# for HEALTH_WORKER_MAX_AGE seconds. The every-minute schedules finish five tasks a minute on
# an idle portal, and the scheduler looks every 30 seconds: 180 leaves room for both.
HEALTH_WORKER_MAX_AGE = env.int("HEALTH_WORKER_MAX_AGE", default=180)
# Seconds the broker ping may take before the check gives up on it.
HEALTH_TIMEOUT = env.float("HEALTH_TIMEOUT", default=2.0)
# Load balancers probe over plain HTTP: /healthz answers without the HTTPS redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Sync engine. A running pull writes a heartbeat every SYNC_HEARTBEAT_SECONDS; the
# watchdog (twice a minute: schedule_syncs) fails and requeues a pull silent for
# SYNC_STALE_SECONDS, so a dead worker is noticed about a minute after its last beat.
# Incremental reads start SYNC_INCREMENTAL_OVERLAP_MINUTES before the last good pull
# (Clear Books filters by date only); a full re-read every SYNC_FULL_RESCAN_DAYS
# catches deletions that incremental reads cannot see.
SYNC_HEARTBEAT_SECONDS = env.float("SYNC_HEARTBEAT_SECONDS", default=10)
SYNC_STALE_SECONDS = env.int("SYNC_STALE_SECONDS", default=60)
# A pull Queued this long is offered to the queue again (a broker without persistence loses
# tasks when it restarts). Past the queue's own `retry`, so a task merely waiting is not doubled
# early; a second delivery would be harmless anyway (the claim lets only one run).
SYNC_REOFFER_SECONDS = env.int("SYNC_REOFFER_SECONDS", default=Q_CLUSTER["retry"] + 60)
SYNC_INCREMENTAL_OVERLAP_MINUTES = env.int("SYNC_INCREMENTAL_OVERLAP_MINUTES", default=24 * 60)
SYNC_FULL_RESCAN_DAYS = env.int("SYNC_FULL_RESCAN_DAYS", default=7)
# A running pull saves the pages it read (records and counts, one transaction) at least every
# SYNC_SAVE_SECONDS and as soon as SYNC_SAVE_ROWS records wait to be written: a cancel or a
# crash loses at most that much reading, and progress bars move that often. 0 saves every page.
SYNC_SAVE_SECONDS = env.float("SYNC_SAVE_SECONDS", default=0.5)
SYNC_SAVE_ROWS = env.int("SYNC_SAVE_ROWS", default=500)

# Outgoing webhooks (connections.webhooks). After the first attempt, a failed delivery is
# retried after each of WEBHOOK_RETRY_SCHEDULE's delays in seconds (tests compress it), then
# ends failed (replayable). Retries due within WEBHOOK_INLINE_RETRY_SECONDS wait in the task,
# later ones are handed over by the sweeper (twice a minute). A worker holds a message for
# WEBHOOK_LEASE_SECONDS (more than the timeout): after that, a dead worker's message is taken
# again. An endpoint failing WEBHOOK_DISABLE_AFTER_SECONDS in a row is disabled.
# WEBHOOK_ALLOW_LOCAL_TARGETS allows plain HTTP and loopback/private addresses (development, tests).
WEBHOOK_RETRY_SCHEDULE = env.list(
    "WEBHOOK_RETRY_SCHEDULE", cast=float, default=[5, 300, 1800, 7200, 18000, 36000, 36000]
)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15)
WEBHOOK_INLINE_RETRY_SECONDS = env.float("WEBHOOK_INLINE_RETRY_SECONDS", default=10)
WEBHOOK_LEASE_SECONDS = env.float("WEBHOOK_LEASE_SECONDS", default=WEBHOOK_TIMEOUT_SECONDS + 45)
WEBHOOK_DISABLE_AFTER_SECONDS = env.float("WEBHOOK_DISABLE_AFTER_SECONDS", default=5 * 24 * 3600)
WEBHOOK_SECRET_OVERLAP_HOURS = env.float("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=14)
WEBHOOK_ALLOW_LOCAL_TARGETS = env.bool("WEBHOOK_ALLOW_LOCAL_TARGETS", default=DEBUG)
# The certificate authorities endpoints' TLS certificates are checked against (a PEM file); empty: certifi's.
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="")

# Clear Books
CLEARBOOKS_WSDL_URL = env.str("CLEARBOOKS_WSDL_URL", default="")
CLEARBOOKS_SANDBOX_PORT = env.int("CLEARBOOKS_SANDBOX_PORT", default=8001)
# Retries of transient failures (client.RetryPolicy): tries per request, first delay and
# cap in seconds; a pause between pages for politeness towards the real service.
CLEARBOOKS_RETRY_ATTEMPTS = env.int("CLEARBOOKS_RETRY_ATTEMPTS", default=5)
CLEARBOOKS_RETRY_BASE_DELAY = env.float("CLEARBOOKS_RETRY_BASE_DELAY", default=2.0)
CLEARBOOKS_RETRY_MAX_DELAY = env.float("CLEARBOOKS_RETRY_MAX_DELAY", default=60.0)
CLEARBOOKS_PAGE_GAP = env.float("CLEARBOOKS_PAGE_GAP", default=0.0)

# REST API (Codat's Platform API shapes, under /api/): API keys only, JSON only, Codat's error
# body, and a rate limit per key (requests/period; period: second, minute, hour or day).
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/minute")
# Each key's count is kept where every process of the portal reads it (gunicorn workers,
# several machines): Redis when REDIS_URL is set, else a table in the database that
# portal.api's migration 0002 makes, so a fresh clone needs no extra step.
API_RATE_CACHE = "api-rate"
if REDIS_URL:
    CACHES[API_RATE_CACHE] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{Q_CLUSTER['name']}:api-rate",
    }
else:
    CACHES[API_RATE_CACHE] = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "api_rate_counts",
        "OPTIONS": {"MAX_ENTRIES": 10000},  # counts live a period each; culling past this is rare
    }
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["portal.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.authentication.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Integration Portal API",
    "DESCRIPTION": (
        "Codat's Platform API, served by this portal: the same paths, names, shapes and errors, so code "
        "written for Codat (and Codat's SDKs) works by changing the base URL and the key. Authenticate with "
        "`Authorization: Basic <your API key in base64>`. Our extension: the synced records of a connection."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [
        "portal.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "SERVE_PERMISSIONS": ["portal.api.authentication.HasApiKeyOrPortalRole"],
    "SCHEMA_PATH_PREFIX": "/api",
    "SCHEMA_PATH_PREFIX_TRIM": True,
    "SERVERS": [{"url": "/api", "description": "This portal"}],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "DataConnectionStatusEnum": "connections.api.serializers.CONNECTION_STATUSES",
        "DatasetStatusEnum": "connections.api.serializers.DATASET_STATUSES",
        "ErrorStatusEnum": ["Active", "Resolved"],
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"one_line_refusals": {"()": "portal.logs.OneLineRefusals"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["one_line_refusals"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}
