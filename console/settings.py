"""Latchkey settings: read from the environment once, safe defaults only in development."""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from console.net import ProxyNetworksError, parse_proxy_networks
from security.auditkeys import WeakPepper, check_pepper
from security.crypto import MasterKeyError, parse_master_keys

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
DEBUG = env.bool("DEBUG", default=False)

_dev_keys: dict[str, str] = {}
if DEBUG:
    from console import devkeys

    _dev_keys = devkeys.load(BASE_DIR / ".latchkey-dev-secrets.json")


def _is_issuer_url(value: str) -> bool:
    """Return whether value is an absolute http(s) URL with a host, no query or fragment."""
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.query
        and not parts.fragment
        and "?" not in value
        and "#" not in value
        and not any(c.isspace() for c in value)
    )


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

# Who issues tokens and who they are for (JWT iss/aud). The issuer is the installation's
# public base URL: the OAuth discovery documents (RFC 8414) name it, derive every endpoint
# from it, and gateways configured with it accept the tokens whose `iss` it is.
LATCHKEY_ISSUER = env.str("LATCHKEY_ISSUER", default="http://localhost:8000").rstrip("/")
if not _is_issuer_url(LATCHKEY_ISSUER):
    raise ImproperlyConfigured(
        "LATCHKEY_ISSUER must be an absolute http(s) URL without query or fragment "
        "(the console's public base URL, e.g. https://latchkey.example.com)."
    )
LATCHKEY_AUDIENCE = env.str("LATCHKEY_AUDIENCE", default="latchkey-api")

INSTALLED_APPS = [
    "accounts.apps.InstallationAdminConfig",  # the Django admin, for installation admins
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
    "console.middleware.ProxyHeadersMiddleware",
    "console.middleware.RequestIdMiddleware",
    "console.middleware.ApiJsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "console.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "security.middleware.SwitchedSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.HtmxNotFoundMiddleware",
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
                "security.context_processors.switch_user",
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
# Audit retention pruning connects as its own role (docs/audit.md): on PostgreSQL only
# that role may delete audit entries, and the application's role is not a member of it.
if _prune_url := env.str("LATCHKEY_AUDIT_PRUNE_DATABASE_URL", default=""):
    DATABASES["audit_prune"] = env.db_url_config(_prune_url)
    DATABASES["audit_prune"]["CONN_MAX_AGE"] = 0
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
# Database sessions that refuse any key Django would not issue (console/sessions.py).
SESSION_ENGINE = "console.sessions"
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
SESSION_COOKIE_SECURE = False if DEBUG else env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = False if DEBUG else env.bool("CSRF_COOKIE_SECURE", default=True)
# ASVS 3.3.3: a "__Host-" name makes the browser refuse the cookie unless it is Secure, has
# no Domain and has Path=/, so that neither a sibling subdomain nor a plain-http page can
# plant or overwrite it (session fixation, CSRF token injection). Every cookie here is
# host-only (no *_COOKIE_DOMAIN) on "/", so the prefix is used whenever the cookie is
# Secure; over plain http (development) a browser would drop a prefixed cookie.
SESSION_COOKIE_NAME = "__Host-sessionid" if SESSION_COOKIE_SECURE else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if CSRF_COOKIE_SECURE else "csrftoken"
# The signed "this browser signed in here before" cookie (security/views_signin.py).
LATCHKEY_DEVICE_COOKIE_NAME = "__Host-lk_device" if SESSION_COOKIE_SECURE else "lk_device"
# The same for installation staff's sign-in pages (security/staff.py).
LATCHKEY_STAFF_DEVICE_COOKIE_NAME = (
    "__Host-lk_staff_device" if SESSION_COOKIE_SECURE else "lk_staff_device"
)
# Messages live in the session: the cookie store's name ("messages") cannot take a prefix.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
_BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if _BEHIND_TLS_PROXY:
        # Believed only from the proxy networks (console/middleware.py ProxyHeadersMiddleware).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# The client address (console/net.py): REMOTE_ADDR, unless the request comes from one of
# the proxy networks; then X-Forwarded-For is read from the right, at most
# LATCHKEY_TRUSTED_PROXIES entries, stopping at the first address that is not a proxy.
# Both settings or neither: a count alone would trust a header that any client can write.
LATCHKEY_TRUSTED_PROXIES = env.int("LATCHKEY_TRUSTED_PROXIES", default=0)
try:
    LATCHKEY_TRUSTED_PROXY_NETWORKS, LATCHKEY_TRUSTED_PROXY_UNIX_SOCKET = parse_proxy_networks(
        env.list("LATCHKEY_TRUSTED_PROXY_NETWORKS", default=[])
    )
except ProxyNetworksError as exc:
    raise ImproperlyConfigured(str(exc)) from None
_has_proxy_networks = bool(LATCHKEY_TRUSTED_PROXY_NETWORKS) or LATCHKEY_TRUSTED_PROXY_UNIX_SOCKET
if LATCHKEY_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("LATCHKEY_TRUSTED_PROXIES is a count of proxies (0 or more).")
if LATCHKEY_TRUSTED_PROXIES and not _has_proxy_networks:
    raise ImproperlyConfigured(
        "LATCHKEY_TRUSTED_PROXIES is set: also set LATCHKEY_TRUSTED_PROXY_NETWORKS to the "
        "networks your proxies connect from (README: Running in production)."
    )
if _BEHIND_TLS_PROXY and not _has_proxy_networks:
    raise ImproperlyConfigured(
        "BEHIND_TLS_PROXY is set: also set LATCHKEY_TRUSTED_PROXY_NETWORKS (and "
        "LATCHKEY_TRUSTED_PROXIES): X-Forwarded-Proto is believed only from those networks."
    )
if _has_proxy_networks and not LATCHKEY_TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "LATCHKEY_TRUSTED_PROXY_NETWORKS is set: also set LATCHKEY_TRUSTED_PROXIES to the "
        "number of proxies in front of the app server."
    )

# Sign-in throttles (failures per window); documented in the README.
LATCHKEY_THROTTLE_WINDOW = env.int("LATCHKEY_THROTTLE_WINDOW", default=15 * 60)
LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = env.int("LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP", default=10)
LATCHKEY_THROTTLE_PER_ACCOUNT = env.int("LATCHKEY_THROTTLE_PER_ACCOUNT", default=50)
LATCHKEY_THROTTLE_PER_IP = env.int("LATCHKEY_THROTTLE_PER_IP", default=100)

# Leak intake (docs/authkeys.md "Leak intake"): the public keys whose signatures
# POST /v1/leaks/github trusts, as JSON {"<key identifier>": "<PEM>"} (GitHub publishes
# its own at https://api.github.com/meta/public_keys/secret_scanning). Empty: every report
# is refused with 401.
LATCHKEY_LEAK_PUBLIC_KEYS = env.json("LATCHKEY_LEAK_PUBLIC_KEYS", default={})
if not isinstance(LATCHKEY_LEAK_PUBLIC_KEYS, dict) or not all(
    isinstance(k, str) and isinstance(v, str) for k, v in LATCHKEY_LEAK_PUBLIC_KEYS.items()
):
    raise ImproperlyConfigured(
        "LATCHKEY_LEAK_PUBLIC_KEYS must be a JSON object of key identifier -> PEM public key."
    )
LATCHKEY_LEAK_MAX_BODY_BYTES = env.int("LATCHKEY_LEAK_MAX_BODY_BYTES", default=64 * 1024)
LATCHKEY_LEAK_BAD_SIGNATURES_PER_IP = env.int("LATCHKEY_LEAK_BAD_SIGNATURES_PER_IP", default=20)

# AuthKeys unused (or never used) for this many days are flagged in the console.
LATCHKEY_STALE_KEY_DAYS = env.int("LATCHKEY_STALE_KEY_DAYS", default=90)
# Audit retention in days for `manage.py prune_audit`; 0 keeps every entry (docs/audit.md).
LATCHKEY_AUDIT_RETENTION_DAYS = env.int("LATCHKEY_AUDIT_RETENTION_DAYS", default=0)
# Retired peppers (comma-separated) that still verify AuthKey secrets after a rotation; each
# key is re-hashed under LATCHKEY_PEPPER at its next exchange (README: AuthKeys). Audit
# entries name the pepper that sealed them and verify only under it (docs/audit.md).
# Split by hand: env.list would drop an empty entry ("a,,b") instead of refusing it.
_fallbacks = env.str("LATCHKEY_PEPPER_FALLBACKS", default="")
LATCHKEY_PEPPER_FALLBACKS = _fallbacks.split(",") if _fallbacks else []
try:
    # The pepper keys the AuthKey hashes, the audit chain and the checkpoint signing key:
    # each one, current or retired, must be as strong as the other keys.
    check_pepper("LATCHKEY_PEPPER", LATCHKEY_PEPPER)
    for _n, _fallback in enumerate(LATCHKEY_PEPPER_FALLBACKS, start=1):
        check_pepper(f"LATCHKEY_PEPPER_FALLBACKS (entry {_n})", _fallback)
except WeakPepper as exc:
    raise ImproperlyConfigured(str(exc)) from None
if LATCHKEY_PEPPER in LATCHKEY_PEPPER_FALLBACKS:
    raise ImproperlyConfigured("LATCHKEY_PEPPER_FALLBACKS must not repeat LATCHKEY_PEPPER.")
# At most this many AuthKeys generated per principal per rolling hour (429 beyond it).
LATCHKEY_AUTHKEY_GENERATES_PER_HOUR = env.int("LATCHKEY_AUTHKEY_GENERATES_PER_HOUR", default=20)
# Lifetime of an OAuth client-credentials access token (/oauth/token's expires_in).
LATCHKEY_OAUTH_TOKEN_SECONDS = env.int("LATCHKEY_OAUTH_TOKEN_SECONDS", default=3600)
if not 180 <= LATCHKEY_OAUTH_TOKEN_SECONDS <= 172800:
    raise ImproperlyConfigured("LATCHKEY_OAUTH_TOKEN_SECONDS must be between 180 and 172800.")
# At most this many credential-set writes (create, update, delete) attempted per principal
# per rolling hour (429 beyond it): each attempt may parse key material (docs/credentials.md).
LATCHKEY_CREDENTIAL_WRITES_PER_HOUR = env.int("LATCHKEY_CREDENTIAL_WRITES_PER_HOUR", default=200)
# Hot-path queries as server-side prepared statements on PostgreSQL (console/hotsql.py).
# Turn off behind a transaction-pooling proxy that cannot hold prepared statements.
LATCHKEY_PREPARED_LOOKUP = env.bool("LATCHKEY_PREPARED_LOOKUP", default=True)
if DATABASES["default"]["ENGINE"].endswith("postgresql") and LATCHKEY_PREPARED_LOOKUP:
    # Django connects with prepare_threshold=None, and then psycopg prepares nothing, not
    # even a query run with prepare=True. A threshold no query reaches keeps Django's own
    # queries unprepared and lets hotsql prepare the ones it asks for.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)

# Mail (README: Mail): password-reset codes and security notifications to the root address.
# EMAIL_URL is django-environ's email URL (smtp+tls://user:pass@host:587, smtp+ssl://...,
# consolemail://, dummymail://), turned into Django's MAILERS. Development prints mails to
# the terminal; production without EMAIL_URL sends nothing, and `check --deploy` says so
# (console/mailchecks.py).
LATCHKEY_EMAIL_URL_SET = bool(env.str("EMAIL_URL", default=""))
_SMTP_OPTIONS = {
    "EMAIL_HOST": "host",
    "EMAIL_PORT": "port",
    "EMAIL_HOST_USER": "username",
    "EMAIL_HOST_PASSWORD": "password",
    "EMAIL_USE_TLS": "use_tls",
    "EMAIL_USE_SSL": "use_ssl",
}
if LATCHKEY_EMAIL_URL_SET:
    _email = env.email_url("EMAIL_URL")
    _mailer = {"BACKEND": _email["EMAIL_BACKEND"], "OPTIONS": {}}
    if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend"):
        _mailer["OPTIONS"] = {
            option: _email[name] for name, option in _SMTP_OPTIONS.items() if _email.get(name)
        }
        # A mail server that does not answer must not hold a worker for long.
        _mailer["OPTIONS"]["timeout"] = env.int("EMAIL_TIMEOUT", default=10)
    elif _email["EMAIL_BACKEND"].endswith("filebased.EmailBackend"):
        _mailer["OPTIONS"] = {"file_path": _email["EMAIL_FILE_PATH"]}
elif DEBUG:
    _mailer = {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
else:
    _mailer = {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
MAILERS = {"default": _mailer}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Password reset (security/password_reset.py): the code's lifetime, and how many codes may
# be asked for per address and per source address in a throttle window.
LATCHKEY_PASSWORD_RESET_SECONDS = env.int("LATCHKEY_PASSWORD_RESET_SECONDS", default=30 * 60)
LATCHKEY_PASSWORD_RESET_PER_ACCOUNT = env.int("LATCHKEY_PASSWORD_RESET_PER_ACCOUNT", default=5)
LATCHKEY_PASSWORD_RESET_PER_IP = env.int("LATCHKEY_PASSWORD_RESET_PER_IP", default=20)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"no_template_context": {"()": "console.logfilters.NoTemplateContext"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Never log request bodies; django.request logs paths only.
        "django.db.backends": {"level": "WARNING"},
        # A failed variable lookup is logged with the whole template context (secrets).
        "django.template": {"filters": ["no_template_context"]},
    },
}
