"""Settings shared by every environment; everything variable comes from the environment."""

import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.embedded import DATA_DIR, ensure_service_urls

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# No DATABASE_URL / REDIS_URL: start (or reuse) the private servers under .data/.
ensure_service_urls()
# DATABASE_URL is the service's role; DATABASE_OWNER_URL the owner's, read only by migrate and
# flush (config/database_roles.py); web, worker and beat need not be given it.

DEFAULT_SECRET_KEY = "insecure-local-development-key-change-me"  # noqa: S105 - refused by production settings
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "ledger",
    "policy",
    "reserve",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.limits.QueryParameterLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "reserve.audit.middleware.RequestIdMiddleware",
    # After OTPMiddleware: privileged admin users verify a TOTP code (REQUIRE_TWO_FACTOR).
    "reserve.access.two_factor.AdminTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: counts failed logins and locks the account/IP out.
    "axes.middleware.AxesMiddleware",
]

# Approver notifications (reserve/notifications/): e-mail through Django's mail settings, and a
# webhook signed with HMAC-SHA256 when a URL is set (the secret signs; see its module).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="reserve-ledger@localhost")
APPROVER_WEBHOOK_URL = env.str("APPROVER_WEBHOOK_URL", default="")
APPROVER_WEBHOOK_SECRET = env.str("APPROVER_WEBHOOK_SECRET", default="")
if APPROVER_WEBHOOK_URL and len(APPROVER_WEBHOOK_SECRET) < 32:
    raise ImproperlyConfigured("APPROVER_WEBHOOK_URL needs an APPROVER_WEBHOOK_SECRET of 32+ characters to sign with.")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# More query parameters than any endpoint takes: refused with a 400 before anything parses them.
MAX_QUERY_PARAMETERS = env.int("MAX_QUERY_PARAMETERS", default=100)
# How many proxies in front of the service append to X-Forwarded-For (0: trust only the peer address).
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
# Failed-login throttling: 5 failures for one username (from anywhere), or from one address (for
# any username), lock that username or address out for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "reserve.access.client.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Two-factor (TOTP) for operator, approver and policy_admin accounts; on in production.
REQUIRE_TWO_FACTOR = env.bool("REQUIRE_TWO_FACTOR", default=False)

# The operators' admin (django-unfold): the dashboard is the index page.
UNFOLD = {
    "SITE_TITLE": "Reserve Ledger",
    "SITE_HEADER": "Reserve Ledger",
    "SITE_SUBHEADER": "Strategic bitcoin reserve",
    "SITE_SYMBOL": "account_balance",
    "DASHBOARD_CALLBACK": "reserve.admin.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": "reserve.admin.navigation.sidebar",
    },
}
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Reserve Ledger")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
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

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A persistent connection is checked before each request reuses it (a restarted server is then
# met by a reconnect, not an error).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_reserve_ledger")}
# A streaming replica (hot standby) that serves the auditors' reports and lists; gates and writes
# never read from it (config/replica.py).
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Outside production, WhiteNoise serves static files straight from the apps (no collectstatic).
WHITENOISE_USE_FINDERS = True

# Bitcoin node (Bitcoin Core JSON-RPC or bcoin). Unset: the service runs without a node.
BITCOIN_RPC_URL = env.str("BITCOIN_RPC_URL", default="")
BITCOIN_NETWORK = env.str("BITCOIN_NETWORK", default="regtest")
if BITCOIN_NETWORK not in {"mainnet", "testnet", "signet", "regtest"}:
    raise environ.ImproperlyConfigured("BITCOIN_NETWORK must be mainnet, testnet, signet or regtest")
BITCOIN_RPC_TIMEOUT_SECONDS = env.float("BITCOIN_RPC_TIMEOUT_SECONDS", default=30.0)
BITCOIN_RPC_RETRIES = env.int("BITCOIN_RPC_RETRIES", default=3)
# The reserve's own settings; the app reads them only through reserve/common/settings.py.
# Blocks on top of a transfer's block before it is final (and its ledger posting no longer provisional).
RESERVE_CONFIRMATION_DEPTH = env.int("RESERVE_CONFIRMATION_DEPTH", default=6)
if RESERVE_CONFIRMATION_DEPTH < 1:
    raise environ.ImproperlyConfigured("RESERVE_CONFIRMATION_DEPTH must be at least 1 (a block buries itself)")
# The fiat currency of valuations (holdings reports, transfers valued when booked): price quotes must exist in it.
RESERVE_REPORTING_CURRENCY = env.str("RESERVE_REPORTING_CURRENCY", default="USD")
if not re.fullmatch(r"[A-Z]{3}", RESERVE_REPORTING_CURRENCY):
    raise environ.ImproperlyConfigured("RESERVE_REPORTING_CURRENCY must be an ISO 4217 code in capitals, such as USD")

# The Ed25519 key that signs tree heads and holdings statements (ledger/signing.py): never in
# the database. Unset both: a key file under the data directory, created on first use.
LEDGER_SIGNING_KEY = env.str("LEDGER_SIGNING_KEY", default="")
LEDGER_SIGNING_KEY_FILE = env.str("LEDGER_SIGNING_KEY_FILE", default="")
LEDGER_SIGNING_KEY_DEFAULT_FILE = DATA_DIR / "ledger-signing.key"
# The transparency log (ledger/log/): how often the sealer signs a new head while there is something
# to seal (the bound on the sealing lag), and whether its heads and proofs are served without a login.
LEDGER_LOG_SEAL_SECONDS = env.float("LEDGER_LOG_SEAL_SECONDS", default=1.0)
LEDGER_LOG_PUBLIC = env.bool("LEDGER_LOG_PUBLIC", default=False)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "reserve.api.authentication.VerifiedSessionAuthentication",
    ],
    # Every endpoint parses JSON one way: NUL characters and deep nesting are refused by name.
    "DEFAULT_PARSER_CLASSES": ["reserve.api.parsers.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_RATES": {"token": env.str("TOKEN_THROTTLE_RATE", default="10/minute")},
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "config.exception_handler.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Reserve Ledger API",
    "DESCRIPTION": "Books of a sovereign strategic bitcoin reserve: holdings, transfers, policy, reconciliation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One schema name per choice set that several models or endpoints share.
    "ENUM_NAME_OVERRIDES": {
        "TransferStatusEnum": "reserve.transfers.models.TransferStatus",
        "TransferDirectionEnum": "reserve.transfers.models.TransferDirection",
        "WalletKindEnum": "reserve.custody.models.WalletKind",
        "AgencyKindEnum": "reserve.custody.models.AgencyKind",
        "NetworkEnum": "reserve.custody.models.Network",
        "RunStatusEnum": "reserve.reconciliation.models.RunStatus",
        "ResolutionStatusEnum": "reserve.reconciliation.models.DiscrepancyStatus",
        "ImportKindEnum": "reserve.imports.models.ImportKind",
        "ImportStatusEnum": "reserve.imports.models.ImportStatus",
        "ImportDecisionEnum": "reserve.imports.models.ImportDecision",
        "PledgeKindEnum": "reserve.compliance.models.PledgeKind",
        "PledgeStatusEnum": "reserve.compliance.models.PledgeStatus",
        "VerdictEnum": [("allow", "allow"), ("deny", "deny"), ("needs_approval", "needs_approval")],
    },
}
# API tokens: stored hashed, expire, revocable (django-rest-knox).
REST_KNOX = {"TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=12)), "AUTH_HEADER_PREFIX": "Token"}

# Celery: JSON only, late acks, one message at a time per worker process.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task runs at most 10 minutes (a long catch-up scan stops there, recorded as a failed run, and
# the next run resumes from the wallet's cursor). With late acks, a message a killed worker held
# goes back to the queue once the Redis visibility timeout passes (default 1 h): set just above
# the longest run, so a task still running is never handed out twice, and above the longest
# retry countdown (300 s), which Redis also holds unacknowledged. Surviving workers sweep for
# such messages every 10 s (docs/RELIABILITY.md, "A worker killed mid-task").
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=10 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=9 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 60),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TIMEZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"one_line_per_event": {"()": "config.log_lines.OneLinePerEvent"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["one_line_per_event"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's default config gives its logger a console of its own under DEBUG (so `make run`):
    # every client error printed a second time, past the filter, traceback and all. One console.
    "loggers": {"django": {"handlers": [], "propagate": True}},
}
