"""Settings for every run mode, read from environment variables.

The defaults are the *embedded* mode: SQLite under ./var/, the in-memory
channel layer, the database task backend and the demo login. Production
(`portal.settings.production`) is the same code with the environment pointing
at PostgreSQL, Redis and an OIDC provider. Every variable is listed in the
README's configuration table; keep the two in step.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("ATRIUM_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
# A `.env` file in the repository root is read if present.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The one insecure key, for the embedded mode only; production refuses it.
INSECURE_DEFAULT_SECRET_KEY = "django-insecure-atrium-embedded-mode-only-do-not-use-in-production"  # noqa: S105

SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
# With SECRET_KEY, derives the key that encrypts cloud credentials at rest
# (django-fernet-encrypted-fields; SECRET_KEY_FALLBACKS keeps old data readable).
SALT_KEY = env.list("ATRIUM_ENCRYPTION_SALT", default=["atrium-embedded-salt"])
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# True only in the embedded mode: demo data may be loaded, demo logins shown.
ATRIUM_EMBEDDED = True
# Local username/password login (embedded mode and break-glass operators).
ATRIUM_LOCAL_LOGIN = env.bool("ATRIUM_LOCAL_LOGIN", default=True)
# Local login for operators (staff) only: break-glass access while scientists use OIDC.
ATRIUM_LOCAL_LOGIN_STAFF_ONLY = env.bool("ATRIUM_LOCAL_LOGIN_STAFF_ONLY", default=False)
# Seconds after which a worker without a heartbeat counts as gone (/healthz).
ATRIUM_WORKER_HEARTBEAT_TIMEOUT = env.int("ATRIUM_WORKER_HEARTBEAT_TIMEOUT", default=30)
ATRIUM_WORKER_HEARTBEAT_INTERVAL = env.float("ATRIUM_WORKER_HEARTBEAT_INTERVAL", default=5.0)

INSTALLED_APPS = [
    # Atrium's own apps first, so their templates override third-party ones.
    "apps.core",
    "apps.accounts",
    "apps.tenancies",
    "apps.jobs",
    "apps.clouds",
    "apps.catalogue",
    "apps.machines",
    "apps.platforms",
    # Django
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Third party
    "channels",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "mozilla_django_oidc",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.ApplicationErrorMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
KNOX_TOKEN_MODEL = "accounts.ApiToken"  # noqa: S105 - a model name, not a secret
# knox's own migrations create its default token table even when the model is
# swapped for ours; without them nothing of knox's is created (swapped models
# are skipped), so no orphan table holds a foreign key to users.
MIGRATION_MODULES = {"knox": None}

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
                "apps.core.context_processors.portal",
                "apps.tenancies.context_processors.tenancies",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# An empty DATABASE_URL counts as unset (the embedded SQLite file).
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'atrium.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and worker share the file: wait for locks instead of failing, and use
    # WAL so readers never block the writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The worker subprocess in tests must reach the test database: a file.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-atrium.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, channel layer, tasks -------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CHANNEL_LAYER = env.str("CHANNEL_LAYER", default="redis" if REDIS_URL else "memory")
if CHANNEL_LAYER == "redis":
    if not REDIS_URL:
        raise environ.ImproperlyConfigured("CHANNEL_LAYER=redis needs REDIS_URL.")
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # No socket timeout, as before redis-py 8. Its new 5 s default killed idle
                # consumers: the layer's receive is a BZPOPMIN that blocks for up to 5 s, so the
                # read timed out ("Timeout reading from", django/channels_redis#422) and pages
                # missed what came next. Any timeout also sends each command through
                # asyncio.wait_for, which on Python 3.11 can swallow a cancellation: a consumer
                # whose socket closed then polled Redis for ever (seen under uvicorn; the
                # BZPOPMIN itself returns every 5 s). redis-py 8 also caps a pool at 100
                # connections and fails beyond that at once ("Too many connections"): when
                # every open page reconnects after a restart, some sockets died joining their
                # group. Redis allows 10000 clients.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": None,
                        "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=1000),
                    }
                ],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="atrium"),
            },
        }
    }
elif CHANNEL_LAYER == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    raise environ.ImproperlyConfigured(f"CHANNEL_LAYER must be 'redis' or 'memory', not {CHANNEL_LAYER!r}.")

TASK_BACKEND = env.str("TASK_BACKEND", default="database")
# The queue jobs go to (RQ: a Redis list of that name; give each site its own).
ATRIUM_JOB_QUEUE = env.str("ATRIUM_JOB_QUEUE", default="atrium-jobs")
_TASK_QUEUES = sorted({"default", ATRIUM_JOB_QUEUE})
_TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "rq": "django_tasks_rq.RQBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
if TASK_BACKEND not in _TASK_BACKENDS:
    raise environ.ImproperlyConfigured(
        f"TASK_BACKEND must be one of {', '.join(sorted(_TASK_BACKENDS))}, not {TASK_BACKEND!r}."
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASK_BACKEND], "QUEUES": _TASK_QUEUES}}
if TASK_BACKEND == "rq":
    if not REDIS_URL:
        raise environ.ImproperlyConfigured("TASK_BACKEND=rq needs REDIS_URL.")
    INSTALLED_APPS.append("django_rq")
    # Jobs end when their code does (cancellation stops them), not on an RQ timer.
    RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 24 * 3600} for name in _TASK_QUEUES}

# Jobs (apps.jobs): see the README's "Jobs" section.
# Extra modules that register job kinds or sync hooks (besides every app's jobs.py).
ATRIUM_JOB_MODULES = env.list("ATRIUM_JOB_MODULES", default=[])
# Seconds between a running job's heartbeats (and checks for cancellation).
ATRIUM_JOB_HEARTBEAT_INTERVAL = env.float("ATRIUM_JOB_HEARTBEAT_INTERVAL", default=1.0)
# Seconds a cancelled job's subprocess gets after SIGTERM before SIGKILL.
ATRIUM_JOB_KILL_GRACE = env.float("ATRIUM_JOB_KILL_GRACE", default=10.0)
# Seconds a job may wait its turn untaken before it is handed to the backend again.
ATRIUM_JOB_REQUEUE_AFTER = env.int("ATRIUM_JOB_REQUEUE_AFTER", default=900)
# Seconds between two periodic syncs of a tenancy; 0 turns the periodic sync off.
ATRIUM_SYNC_INTERVAL = env.int("ATRIUM_SYNC_INTERVAL", default=600)
# With the in-memory channel layer the web process cannot hear workers: live
# pages re-read their jobs and rows from the database this often (seconds) instead.
ATRIUM_LIVE_POLL_INTERVAL = env.float("ATRIUM_LIVE_POLL_INTERVAL", default=1.0)
# Machines (apps.machines): seconds between looks at a machine a job is waiting
# for, the most a build or an action may take; and (apps.catalogue) how old the
# cached list of images and sizes may get before a form reads it from the cloud again.
ATRIUM_MACHINE_POLL_INTERVAL = env.float("ATRIUM_MACHINE_POLL_INTERVAL", default=2.0)
# Seconds before a job waiting for the cloud first looks again (then it backs off up to the
# interval above); between looks it holds no worker (apps.core.resources.jobs.wait).
ATRIUM_WAIT_FIRST_LOOK = env.float("ATRIUM_WAIT_FIRST_LOOK", default=1.0)
# Workers follow what such jobs wait for with one watcher per tenancy (apps.jobs.watch): one list
# call every ATRIUM_WATCH_INTERVAL seconds, and a job looks again when its thing changed, or on its
# own every ATRIUM_WATCH_BACKSTOP seconds should the watcher stop.
ATRIUM_WATCH_INTERVAL = env.float("ATRIUM_WATCH_INTERVAL", default=1.0)
ATRIUM_WATCH_BACKSTOP = env.float("ATRIUM_WATCH_BACKSTOP", default=30.0)
ATRIUM_MACHINE_TIMEOUT = env.int("ATRIUM_MACHINE_TIMEOUT", default=1800)
# Seconds to wait for the compute API to show an external IP change the network API made.
ATRIUM_MACHINE_ADDRESS_TIMEOUT = env.int("ATRIUM_MACHINE_ADDRESS_TIMEOUT", default=120)
ATRIUM_CATALOGUE_MAX_AGE = env.int("ATRIUM_CATALOGUE_MAX_AGE", default=600)
# Platform types (apps.platforms): one folder per type, each with its platform.yaml.
ATRIUM_PLATFORM_TYPES_DIR = Path(env.str("ATRIUM_PLATFORM_TYPES_DIR", default=str(BASE_DIR / "terraform")))

# --- Authentication ---------------------------------------------------------
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# OpenID Connect (mozilla-django-oidc, under its own setting names). OIDC login
# is offered when OIDC_RP_CLIENT_ID is set.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_OP_LOGOUT_ENDPOINT = env.str("OIDC_OP_LOGOUT_ENDPOINT", default="")
# The id_token's `iss` must be this (the library itself does not check it).
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
OIDC_USE_PKCE = env.bool("OIDC_USE_PKCE", default=True)
OIDC_TOKEN_USE_BASIC_AUTH = env.bool("OIDC_TOKEN_USE_BASIC_AUTH", default=True)
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=10)
OIDC_STORE_ID_TOKEN = True  # for RP-initiated logout (id_token_hint)
OIDC_OP_LOGOUT_URL_METHOD = "apps.accounts.oidc.provider_logout_url"
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/"
ATRIUM_OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
ATRIUM_OIDC_PROVIDER_NAME = env.str("ATRIUM_OIDC_PROVIDER_NAME", default="your institution")
# Which claim lists the person's groups, and which groups make someone an operator.
ATRIUM_OIDC_GROUPS_CLAIM = env.str("ATRIUM_OIDC_GROUPS_CLAIM", default="groups")
ATRIUM_OIDC_OPERATOR_GROUPS = env.list("ATRIUM_OIDC_OPERATOR_GROUPS", default=[])
# Seconds an API request's OIDC access token, once checked at the provider, is trusted.
ATRIUM_OIDC_BEARER_CACHE_SECONDS = env.int("ATRIUM_OIDC_BEARER_CACHE_SECONDS", default=60)
AUTHENTICATION_BACKENDS.insert(0, "apps.accounts.oidc.AtriumOIDCBackend")
# Limits on guessing (apps/accounts/throttling.py). Password sign-in: django-axes
# counts failures per account and per client address; at the limit, that
# account or address is refused (429, Retry-After) for the lockout time after
# its last failure. Operators see and clear lockouts in the admin (Axes).
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as axes asks
AUTHENTICATION_BACKENDS.insert(0, "apps.accounts.throttling.SignInLimitBackend")  # axes': first, as it asks
AXES_FAILURE_LIMIT = env.int("ATRIUM_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("ATRIUM_LOGIN_LOCKOUT_SECONDS", default=900))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # Retry-After stays true
AXES_CLIENT_IP_CALLABLE = "apps.accounts.throttling.client_address"
AXES_WHITELIST_CALLABLE = "apps.accounts.throttling.password_attempts_only"
AXES_LOCKOUT_CALLABLE = "apps.accounts.throttling.lockout_response"
AXES_VERBOSE = False  # no banner at every start; failures are still logged
AXES_DISABLE_ACCESS_LOG = True  # no row per sign-in in a table that grows for ever
# API credentials that fail (Token or Bearer), per client address, in DRF's
# rate syntax; past it every token from that address gets 429 for the window.
ATRIUM_API_BAD_TOKEN_RATE = env.str("ATRIUM_API_BAD_TOKEN_RATE", default="20/min")
# The cache holds the API throttle's counts (and the OIDC bearer check's
# answers): Redis when REDIS_URL is set, so every web process counts together.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="atrium"),
        }
    }
# Personal API tokens (django-rest-knox): keys start with this, so secret
# scanners and people recognise them.
ATRIUM_TOKEN_PREFIX = "atrium_"  # noqa: S105 - a public prefix, not a secret
REST_KNOX = {"TOKEN_TTL": None, "TOKEN_PREFIX": ATRIUM_TOKEN_PREFIX, "AUTH_HEADER_PREFIX": "Token"}

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where `collectstatic` puts files (production); the embedded mode needs none.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Embedded mode serves straight from the source folders, no collectstatic.
SERVESTATIC_USE_FINDERS = True
SERVESTATIC_AUTOREFRESH = DEBUG

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.auth.ApiTokenAuthentication",
        "apps.accounts.oidc.AtriumOIDCBearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # apps.core.rest: one way for every endpoint to read pages, ordering and JSON bodies.
    "DEFAULT_PAGINATION_CLASS": "apps.core.rest.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["apps.core.rest.Filters", "apps.core.rest.Ordering"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.rest.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Atrium API",
    "DESCRIPTION": (
        "Self-service research computing: tenancies, machines, clusters, platforms and "
        "reservations. Every request that starts work answers 202 with the job."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "apps.jobs.models.Job.State",
        "JobStageStateEnum": "apps.jobs.models.JobStage.State",
        "MachineStatusEnum": "apps.machines.models.Machine.STATUS_CHOICES",
        "VolumeStatusEnum": "apps.machines.models.Volume.STATUS_CHOICES",
        "PlatformParameterKindEnum": "apps.platforms.params.KIND_CHOICES",
        # A machine's console kind keeps its name beside the platform parameters' `kind`.
        "KindEnum": [("novnc", "novnc"), ("serial", "serial")],
    },
}

# --- Security headers ---------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

if ATRIUM_OIDC_ENABLED and OIDC_OP_AUTHORIZATION_ENDPOINT:
    # Login and RP-initiated logout are form posts that redirect to the provider.
    from urllib.parse import urlsplit

    _op = urlsplit(OIDC_OP_AUTHORIZATION_ENDPOINT)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(f"{_op.scheme}://{_op.netloc}")

# --- Logging ----------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # axes logs every failed sign-in at INFO; its WARNINGs (new failures, lockouts) are enough.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}
