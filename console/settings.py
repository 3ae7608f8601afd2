"""Latchkey settings: read from the environment once, safe defaults only in development."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from security.crypto import MasterKeyError, parse_master_keys

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
DEBUG = env.bool("DEBUG", default=False)

_dev_keys: dict[str, str] = {}
if DEBUG:
    from console import devkeys

    _dev_keys = devkeys.load(BASE_DIR / ".latchkey-dev-secrets.json")


def _secret(name: str) -> str:
    """Return a required secret; development falls back to the generated file."""
    value = env.str(name, default="") or _dev_keys.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable (see README: Settings).")
    return value


SECRET_KEY = _secret("SECRET_KEY")
LATCHKEY_PEPPER = _secret("LATCHKEY_PEPPER")
LATCHKEY_JWT_KEYS = _secret("LATCHKEY_JWT_KEYS")
LATCHKEY_MASTER_KEYS = _secret("LATCHKEY_MASTER_KEYS")
try:
    # "id:base64url(32 bytes)" entries, newest first: a malformed key must stop start-up,
    # not surface as a failed decryption later.
    parse_master_keys(LATCHKEY_MASTER_KEYS)
except MasterKeyError as exc:
    raise ImproperlyConfigured(str(exc)) from None
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters of random text.")
if len({SECRET_KEY, LATCHKEY_PEPPER, LATCHKEY_JWT_KEYS, LATCHKEY_MASTER_KEYS}) != 4:
    raise ImproperlyConfigured("SECRET_KEY, the pepper, JWT and master keys must all differ.")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set ALLOWED_HOSTS (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Who issues tokens and who they are for (JWT iss/aud).
LATCHKEY_ISSUER = env.str("LATCHKEY_ISSUER", default="latchkey")
LATCHKEY_AUDIENCE = env.str("LATCHKEY_AUDIENCE", default="latchkey-api")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "console",
    "accounts",
    "security",
]

MIDDLEWARE = [
    "console.middleware.RequestIdMiddleware",
    "console.middleware.ApiJsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "console.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Persistent connections roughly double throughput on the authenticated hot path.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0 if DEBUG else 600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL + immediate transactions: concurrent writers queue instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.Principal"
AUTHENTICATION_BACKENDS = [
    "accounts.backends.RootBackend",
    "accounts.backends.SamUserBackend",
    "accounts.backends.StaffBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "accounts.passwords.MaximumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Request bodies: the JSON API refuses anything over 64 KiB with 413.
LATCHKEY_MAX_BODY_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# Browser security.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# The client address: REMOTE_ADDR unless a trusted proxy count is configured, then the
# address that many hops back in X-Forwarded-For (spoofed entries further left are ignored).
LATCHKEY_TRUSTED_PROXIES = env.int("LATCHKEY_TRUSTED_PROXIES", default=0)

# Sign-in throttles (failures per window); documented in the README.
LATCHKEY_THROTTLE_WINDOW = env.int("LATCHKEY_THROTTLE_WINDOW", default=15 * 60)
LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = env.int("LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP", default=10)
LATCHKEY_THROTTLE_PER_ACCOUNT = env.int("LATCHKEY_THROTTLE_PER_ACCOUNT", default=50)
LATCHKEY_THROTTLE_PER_IP = env.int("LATCHKEY_THROTTLE_PER_IP", default=100)

# AuthKeys unused (or never used) for this many days are flagged in the console.
LATCHKEY_STALE_KEY_DAYS = env.int("LATCHKEY_STALE_KEY_DAYS", default=90)
# Audit retention in days for `manage.py prune_audit`; 0 keeps every entry (docs/audit.md).
LATCHKEY_AUDIT_RETENTION_DAYS = env.int("LATCHKEY_AUDIT_RETENTION_DAYS", default=0)
# Retired peppers (comma-separated) that still verify AuthKey secrets after a rotation; each
# key is re-hashed under LATCHKEY_PEPPER at its next exchange (README: AuthKeys).
LATCHKEY_PEPPER_FALLBACKS = env.list("LATCHKEY_PEPPER_FALLBACKS", default=[])
# At most this many AuthKeys generated per principal per rolling hour (429 beyond it).
LATCHKEY_AUTHKEY_GENERATES_PER_HOUR = env.int("LATCHKEY_AUTHKEY_GENERATES_PER_HOUR", default=20)
# Hot-path queries as server-side prepared statements on PostgreSQL (console/hotsql.py).
# Turn off behind a transaction-pooling proxy that cannot hold prepared statements.
LATCHKEY_PREPARED_LOOKUP = env.bool("LATCHKEY_PREPARED_LOOKUP", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Never log request bodies; django.request logs paths only.
        "django.db.backends": {"level": "WARNING"},
    },
}
