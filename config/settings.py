"""Batchboard settings: one file, driven by the environment.

Development defaults apply only while DEBUG is on (the default for a checkout).
In production set DEBUG=0 together with SECRET_KEY, ALLOWED_HOSTS and
DATABASE_URL; anything missing then is an error at start-up, not a silent default.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    value = os.getenv(name)
    return int(value) if value not in (None, "") else default


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "1")

SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

VAR_DIR = Path(os.getenv("VAR_DIR", BASE_DIR / "var"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_fsm",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "health_check",
    "django_tasks",
    "django_tasks_db",
    "accounts",
    "boards",
]

MIDDLEWARE = [
    # Outermost: the request id, user and workspace on every log line (core.requestlog).
    "core.requestlog.RequestContextMiddleware",
    # Outermost, so that every answer carries them, the API's JSON errors included.
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "boards.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Turns a login refused by axes into the "locked out" page (accounts.throttle.lockout_response).
    "axes.middleware.AxesMiddleware",
    "core.middleware.ServiceErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "boards.context_processors.way_back",
            ],
        },
    }
]

# PostgreSQL's planner, for Batchboard's sessions. Its data is read from memory or SSD, where a random
# read costs about what a sequential one does (random_page_cost 4, the default, is a disk's), and its
# requests are short and many at once: a parallel plan's workers took longer to start than they
# saved on every catalog query measured (bench/README.md). Sent as libpq's startup ``options``;
# PG_OPTIONS="" leaves the server's own, as behind a PgBouncer that refuses that parameter (then
# set them on the role: ALTER ROLE … SET random_page_cost = 1.1).
PG_PLANNER_OPTIONS = "-c random_page_cost=1.1 -c max_parallel_workers_per_gather=0"


def database_settings(url: str, pg_options: str) -> dict:
    database = dj_database_url.parse(url, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True)
    if database["ENGINE"] == "django.db.backends.postgresql" and pg_options.strip():
        options = database.setdefault("OPTIONS", {})
        # The URL's own ``options`` come after, so a setting it names wins.
        options["options"] = " ".join(part for part in (pg_options.strip(), options.get("options", "")) if part)
    return database


DATABASES = {
    "default": database_settings(
        os.getenv("DATABASE_URL", f"sqlite:///{VAR_DIR / 'batchboard.sqlite3'}"),
        os.getenv("PG_OPTIONS", PG_PLANNER_OPTIONS),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets readers go on while an upload writes; the busy timeout makes a
    # second writer wait instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a login while its account or client address is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "accounts.backends.WorkspaceRoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.getenv("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", VAR_DIR / "media"))
# Media is never served directly: image views check the viewer's workspace first.
MEDIA_URL = "/media/"

# Stored files (originals, thumbnails): on the local disk under MEDIA_ROOT, or with
# S3_BUCKET set in a private bucket of any S3-compatible store (AWS S3, MinIO, Ceph,
# Cloudflare R2) through django-storages, shared by every host. There originals are
# served by a redirect to a presigned URL valid S3_URL_SECONDS, after the viewer's
# permission check; thumbnails pass through the app with long cache headers.
# Credentials: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or boto3's own (AWS_*
# variables, an instance role). S3_ENDPOINT_URL names a store other than AWS; browsers
# load originals from it (or from S3_MEDIA_ORIGIN, which the Content-Security-Policy allows).
S3_BUCKET = os.getenv("S3_BUCKET", "").strip()
S3_URL_SECONDS = envint("S3_URL_SECONDS", 300)


def s3_storage(bucket: str, endpoint_url: str, region: str) -> tuple[dict, str]:
    """The default storage's settings for ``bucket``, and the origin browsers fetch originals from."""
    style = os.getenv("S3_ADDRESSING_STYLE", "path" if endpoint_url else "virtual")
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint_url or None,
        "region_name": region or None,
        "access_key": os.getenv("S3_ACCESS_KEY_ID") or None,
        "secret_key": os.getenv("S3_SECRET_ACCESS_KEY") or None,
        "location": os.getenv("S3_PREFIX", "").strip("/"),
        "addressing_style": style,
        "signature_version": "s3v4",
        "default_acl": None,  # the bucket's own: private
        "querystring_auth": True,
        "querystring_expire": S3_URL_SECONDS,
        "file_overwrite": True,  # names are content addresses: the same name is the same bytes
    }
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        host = host.split("/", 1)[0]
        origin = f"{scheme}://{host}" if style == "path" else f"{scheme}://{bucket}.{host}"
    else:
        origin = f"https://{bucket}.s3.amazonaws.com" + (
            f" https://{bucket}.s3.{region}.amazonaws.com" if region else ""
        )
    return {"BACKEND": "core.storage.MediaS3Storage", "OPTIONS": options}, os.getenv("S3_MEDIA_ORIGIN", origin)


if S3_BUCKET:
    MEDIA_STORAGE, MEDIA_ORIGIN = s3_storage(
        S3_BUCKET, os.getenv("S3_ENDPOINT_URL", "").strip(), os.getenv("S3_REGION", "")
    )
else:
    MEDIA_STORAGE, MEDIA_ORIGIN = {"BACKEND": "django.core.files.storage.FileSystemStorage"}, ""
# Whether originals are answered with a redirect to the store rather than streamed by the app.
SERVE_ORIGINALS_BY_REDIRECT = bool(S3_BUCKET)

STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads. A request may carry many files; each file is checked on its own.
MAX_UPLOAD_FILE_BYTES = envint("MAX_UPLOAD_FILE_BYTES", 50 * 1024 * 1024)
MAX_UPLOAD_REQUEST_BYTES = envint("MAX_UPLOAD_REQUEST_BYTES", 1024 * 1024 * 1024)
MAX_UPLOAD_FILES = envint("MAX_UPLOAD_FILES", 1000)
MAX_IMAGE_PIXELS = envint("MAX_IMAGE_PIXELS", 100_000_000)
THUMBNAIL_SIZE = envint("THUMBNAIL_SIZE", 256)
UPLOAD_WORKERS = envint("UPLOAD_WORKERS", os.cpu_count() or 2)
DATA_UPLOAD_MAX_NUMBER_FILES = MAX_UPLOAD_FILES
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
# A request up to this size is parsed in memory; a larger one goes to temporary
# files (FILE_UPLOAD_TEMP_DIR), which uploads read and copy into storage in
# chunks, so a request holds at most this much of what it carries in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = envint("FILE_UPLOAD_MAX_MEMORY_SIZE", 4 * 1024 * 1024)

# Background work (exports, large imports) runs in workers: `manage.py db_worker` processes that take
# tasks from the database (django-tasks with django-tasks-db), on any machine that
# reaches it. A worker that stops beating for BACKGROUND_STALL_SECONDS (killed, out of
# memory) has its task run again, BACKGROUND_ATTEMPTS runs in all, then failed.
# Finished export archives are kept EXPORT_RETENTION_DAYS; exports of up to
# EXPORT_STREAM_LIMIT images may also be downloaded at once, streamed as they are written.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
BACKGROUND_STALL_SECONDS = envint("BACKGROUND_STALL_SECONDS", 120)
BACKGROUND_ATTEMPTS = envint("BACKGROUND_ATTEMPTS", 2)
BACKGROUND_OPEN_PER_PERSON = envint("BACKGROUND_OPEN_PER_PERSON", 3)  # tasks one person may have waiting or running
EXPORT_RETENTION_DAYS = envint("EXPORT_RETENTION_DAYS", 7)
EXPORT_STREAM_LIMIT = envint("EXPORT_STREAM_LIMIT", 2000)
IMPORT_INLINE_FILES = envint("IMPORT_INLINE_FILES", 1000)  # more annotation files are imported in the background
EXPORT_TEMP_DIR = os.getenv("EXPORT_TEMP_DIR", "")  # where a worker writes an archive before storing it
EXPORT_PAGE_SIZE = max(1, envint("EXPORT_PAGE_SIZE", 500))  # images read per query, and per progress step

# Bucket imports: a project's managers connect S3-compatible buckets to import images
# from. Their credentials are stored encrypted with FIELD_ENCRYPTION_KEY (a Fernet key;
# derived from SECRET_KEY when unset). An endpoint on a private, loopback or link-local
# address (the server's own network) is refused unless BUCKET_PRIVATE_ENDPOINTS is on.
FIELD_ENCRYPTION_KEY = os.getenv("FIELD_ENCRYPTION_KEY", "")
BUCKET_PRIVATE_ENDPOINTS = envbool("BUCKET_PRIVATE_ENDPOINTS", "0")
BUCKET_IMPORT_CHUNK = envint("BUCKET_IMPORT_CHUNK", 50)  # objects fetched and stored per step

# Caches. "boards" holds the board's card numbers and rendered cards and boards;
# its keys name the version of what they hold, so entries never go stale, they
# only stop being asked for. "default" holds the API's rate-limit counters.
# Without REDIS_URL both live in each server process. With it (redis://host:6379/0,
# rediss://… for TLS, unix:///run/redis/redis.sock) both live in that Redis, shared
# by every process and host: a rate limit holds exactly across all of them, and a
# card one host rendered is reused by the others.
REDIS_URL = os.getenv("REDIS_URL", "").strip()


def cache_settings(redis_url: str, board_entries: int) -> dict:
    if not redis_url:
        return {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"},
            "boards": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "boards",
                "OPTIONS": {"MAX_ENTRIES": board_entries},
            },
        }
    # A Redis that stops answering fails a request in seconds instead of holding it.
    shared = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
    return {"default": shared | {"KEY_PREFIX": "bb"}, "boards": shared | {"KEY_PREFIX": "bb-boards"}}


CACHES = cache_settings(REDIS_URL, envint("BOARD_CACHE_ENTRIES", 20_000))

# The API: requests per key per window (0 turns the limit off). The counters
# live in the default cache, so with several server processes each counts its
# own share unless REDIS_URL names a shared cache.
API_RATE_LIMIT = envint("API_RATE_LIMIT", 3000)
API_RATE_WINDOW = envint("API_RATE_WINDOW", 60)

# Client addresses. Behind TRUSTED_PROXY_COUNT proxies that each append the
# address they were connected from to X-Forwarded-For (nginx's
# $proxy_add_x_forwarded_for, Caddy's reverse_proxy), the client is that many
# entries from the right; entries further left are the client's own word and
# never read. Production is documented behind one TLS proxy; 0 reads REMOTE_ADDR.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0 if DEBUG else 1)

# Login throttling (django-axes). Failed logins, the app's and the admin's, are
# counted in the database, so every process and host sees them: per account (the
# email, case-insensitive) and per client address. LOGIN_FAILURE_LIMIT failures
# of either within LOGIN_COOLOFF_MINUTES lock its logins until that long after
# the last failure, correct password or not. A success does not reset the
# counts: a reset deletes the client's attempts too, so anyone with an account
# could wipe the count of their guesses at someone else's by logging in.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_ENABLED = envbool("LOGIN_THROTTLE", "1")
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the page's "try again at" stays true
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.throttle.login_username"
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.throttle.lockout_response"
AXES_VERBOSE = False

# Guessing API keys: API_KEY_FAILURE_LIMIT requests with an unknown or revoked
# key from one client address within API_KEY_LOCKOUT_SECONDS answer 429 to every
# key from that address for API_KEY_LOCKOUT_SECONDS (0 turns it off). Counted in
# the database (accounts.ApiKeyFailure), like logins, not in the per-process cache.
API_KEY_FAILURE_LIMIT = envint("API_KEY_FAILURE_LIMIT", 20)
API_KEY_LOCKOUT_SECONDS = envint("API_KEY_LOCKOUT_SECONDS", 300)


# Content-Security-Policy: no inline script or style anywhere (templates use
# neither; htmx injects no indicator style, evaluates nothing and settles no
# style attribute: see the htmx-config meta tag in base.html), everything from
# this origin. Permissions-Policy: no page needs these browser features.
def content_security_policy(media_origin: str) -> dict:
    """The policy, with images also allowed from ``media_origin`` (the object store, if any)."""
    return {
        "DIRECTIVES": {
            "default-src": ["'self'"],
            "script-src": ["'self'"],
            "style-src": ["'self'"],
            "img-src": ["'self'", *media_origin.split()],
            "connect-src": ["'self'"],
            "font-src": ["'self'"],
            "object-src": ["'none'"],
            "base-uri": ["'none'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        }
    }


CONTENT_SECURITY_POLICY = content_security_policy(MEDIA_ORIGIN)
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# Security. Production behind a TLS-terminating proxy gets the strict set.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # load balancers probe servers over plain HTTP
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "1")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "1")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "1")
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "1")
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", "1")

# Logs go to stderr. LOG_FORMAT=json writes one JSON object per line, each with the
# request id, user (id) and workspace (slug) of the request it belongs to (None
# outside one), and ends every request with a "request" line: method, path,
# status and duration. LOG_REQUESTS turns those lines on or off in either format.
LOG_FORMAT = os.getenv("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.requestlog.ContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user)s %(workspace)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "batchboard.request": {
            "level": "INFO" if envbool("LOG_REQUESTS", "1" if LOG_FORMAT == "json" else "0") else "WARNING"
        },
    },
}
