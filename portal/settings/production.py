"""Production: the same code, configured entirely by the environment.

Refuses to start with the embedded default SECRET_KEY, without an explicit
DATABASE_URL and ALLOWED_HOSTS, with `*` in ALLOWED_HOSTS, or with DEBUG on;
secure cookies, HSTS and hashed static files (ServeStatic) on.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import ALLOWED_HOSTS, INSECURE_DEFAULT_SECRET_KEY, SECRET_KEY, STORAGES, VAR_DIR, env

if not SECRET_KEY or SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "Production needs SECRET_KEY: a random value of at least 50 characters "
        "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )
for _name in ("DATABASE_URL", "ALLOWED_HOSTS", "ATRIUM_ENCRYPTION_SALT"):
    if not env.str(_name, default=""):
        raise ImproperlyConfigured(f"Production needs {_name} to be set explicitly (see the README).")
if "*" in ALLOWED_HOSTS:
    # `*` lets any Host header through: Django's host check and the websocket
    # Origin check (apps/core/origin.py) then accept a page of any DNS name
    # pointed at this server (DNS rebinding) as the site's own.
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must name the portal's host names in production (e.g. atrium.example.org, "
        "or .example.org for its subdomains), not '*'."
    )
if env.bool("DEBUG", default=False):
    raise ImproperlyConfigured("DEBUG must be off in production.")

DEBUG = False
ATRIUM_EMBEDDED = False
ATRIUM_LOCAL_LOGIN = env.bool("ATRIUM_LOCAL_LOGIN", default=False)
ATRIUM_LOCAL_LOGIN_STAFF_ONLY = env.bool("ATRIUM_LOCAL_LOGIN_STAFF_ONLY", default=True)

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Joining the browsers' HSTS preload list is hard to undo, so it is the site's
# choice (SECURE_HSTS_PRELOAD=true), not a default; don't warn while it is off.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_SAMESITE = "Lax"

# `manage.py collectstatic` at deploy time; ServeStatic serves hashed, compressed files.
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
}
SERVESTATIC_USE_FINDERS = False
SERVESTATIC_AUTOREFRESH = False
