"""One canary scanner for every flow that handles a secret (docs/testing.md).

A test plants a unique secret (or registers one the server made, such as a new AuthKey's),
runs its flow, and then calls `assert_nowhere()`. The scanner looks for the secret in every
place a secret could reach:

- log records of every logger, captured at DEBUG (root, `django.*`, ours, and loggers that
  do not propagate), with their arguments, extras and tracebacks;
- what the process wrote to stdout and stderr (file descriptors 1 and 2, via capfd);
- every table of the database, found through the connection's introspection, every column
  of every row (text, bytes and JSON alike), with Django-signed values decoded;
- every cache configured in CACHES (local memory: every key and value; Redis: every key
  of the database and its value);
- the session store, every session decoded;
- the audit trail, every field of every entry, details included;
- the mail outbox (a mail named with `shown_in`, such as a reset link's, may hold its secret
  in its body);
- every response the process produced during the flow, body and headers (signed and
  compressed cookies such as messages decoded); the body of the one response that shows a
  secret once, named with `shown_in`, may hold that secret (and no other);
- later pages (`revisit`): after the flow, every GET route of the console and the API
  (tests/routes.py) fetched as the operator's root and every staff page as a member of the
  support staff, with path values taken from the operator's own objects.

It looks for the whole secret and for every 12-character window of it, as written, as HTML
escapes it and as JSON escapes it; and for the whole secret hex-, URL- and base64-encoded
(standard and URL-safe alphabets, at each of the three byte alignments).
"""

import base64
import binascii
import html
import json
import logging
import pickle
import re
import secrets
import string
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from itertools import product
from pathlib import Path
from urllib.parse import quote, quote_plus

from django.conf import settings
from django.core import mail
from django.core.cache import caches
from django.core.handlers.base import BaseHandler
from django.db import connection
from django.http import HttpResponseBase
from django.test import Client
from redis import Redis

from accounts import apisessions
from accounts.models import Principal, Role
from security.models import AuditEntry, AuthKey, CredentialSet, Group
from tests.mail import RUNNING as SMTP_SERVERS
from tests.routes import all_routes

WINDOW = 12
BASE62 = string.digits + string.ascii_letters


@dataclass(frozen=True)
class Place:
    """Somewhere a secret could have reached, with everything it holds as bytes."""

    probe: str  # logs, output, database, cache, sessions, audit, mail, responses, later
    where: str
    data: bytes
    excused: frozenset[str] = frozenset()  # secrets this one place is meant to show


@dataclass(frozen=True)
class Finding:
    place: Place
    label: str
    form: str

    def __str__(self) -> str:
        return f"{self.label} ({self.form}) in {self.place.probe}: {self.place.where}"


def _b(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")


def _renderings(secret: str) -> dict[str, str]:
    """Return how a template or a JSON encoder may write the secret out."""
    return {
        "raw": secret,
        "HTML-escaped": html.escape(secret),
        "JSON-escaped": json.dumps(secret)[1:-1],
        "JSON-escaped (non-ASCII kept)": json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def _base64_forms(raw: bytes) -> Iterator[tuple[str, bytes]]:
    for shift in range(3):
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            encoded = encode(b"\0" * shift + raw)
            # The edge groups mix with neighbouring bytes; the middle is position-exact.
            yield f"{name}, offset {shift}", encoded[4 if shift else 0 : -4]


def forms_of(secret: str) -> dict[bytes, str]:
    """Return every needle the scanner looks for, mapped to how it was derived."""
    needles: dict[bytes, str] = {}
    for name, text in _renderings(secret).items():
        needles.setdefault(_b(text), f"whole, {name}")
        for start in range(len(text) - WINDOW + 1):
            needles.setdefault(_b(text[start : start + WINDOW]), f"{WINDOW}-char window, {name}")
    raw = _b(secret)
    encoded = [
        ("hex", raw.hex().encode()),
        ("HEX", raw.hex().upper().encode()),
        ("URL-encoded", quote(secret, safe="").encode()),
        ("URL-encoded (path)", quote(secret).encode()),
        ("URL-encoded (form)", quote_plus(secret).encode()),
        *_base64_forms(raw),
    ]
    for name, needle in encoded:
        if len(needle) >= 16:
            needles.setdefault(needle, f"whole, {name}")
    return needles


# --- decoding what Django signs, compresses or pickles ------------------------------------


def _unsigned(value: str) -> str | None:
    """Return the payload of a django.core.signing value (session data, messages), unverified."""
    payload = value.split(":", 1)[0]
    compressed = payload.startswith(".")
    try:
        data = base64.urlsafe_b64decode(payload.lstrip(".") + "=" * (-len(payload) % 4))
        if compressed:
            data = zlib.decompress(data)
        return data.decode("utf-8", "backslashreplace")
    except (binascii.Error, ValueError, zlib.error):
        return None


def _text_with_decodings(value: str) -> str:
    decoded = _unsigned(value) if ":" in value and len(value) < 1_000_000 else None
    return value if decoded is None else f"{value}\n[decoded] {decoded}"


def _render(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return _b(_text_with_decodings(value))
    if isinstance(value, dict | list):
        return _b(json.dumps(value, default=str, ensure_ascii=False) + " " + repr(value))
    return _b(str(value))


def _unpickled(raw: bytes) -> bytes:
    # Test data written by this process: unpickling it is safe here (never in the product).
    try:
        return _b(repr(pickle.loads(raw)))
    except Exception:
        return b""


# --- capture: log records and responses ---------------------------------------------------


class _RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _record_text(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:
        message = f"{record.msg!r} % {record.args!r}"
    extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
    parts = [f"{record.name} {record.levelname} {message}", f"args={record.args!r}"]
    if extras:
        parts.append(f"extra={extras!r}")
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


@dataclass
class _Seen:
    label: str
    response: HttpResponseBase
    body: bytes
    later: bool = False


def _body(response: HttpResponseBase) -> bytes:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
        response.streaming_content = [content]
        return content
    return getattr(response, "content", b"")


def _mail_body(message) -> bytes:
    parts = [message.body, *(str(content) for content, _ in getattr(message, "alternatives", []))]
    return _b("\n".join(parts)) + b"\n" + message.message().as_bytes()


def _headers(response: HttpResponseBase) -> str:
    lines = [f"{name}: {value}" for name, value in response.headers.items()]
    for morsel in response.cookies.values():
        lines.append(f"Set-Cookie: {morsel.key}={_text_with_decodings(morsel.value)}")
    return "\n".join(lines)


# --- the scanner ----------------------------------------------------------------------------


@dataclass
class Canary:
    """Plant or register secrets, then assert that none reached any place it must not."""

    capfd: object
    planted: dict[str, str] = field(default_factory=dict)  # secret -> label
    scanned: bool = False
    _handler: _RecordingHandler = field(default_factory=_RecordingHandler)
    _seen: list[_Seen] = field(default_factory=list)
    _shown: dict[int, set[str]] = field(default_factory=dict)  # id(response or mail) -> secrets
    _out: str = ""
    _err: str = ""
    _revisiting: bool = False

    # -- secrets --

    def plant(self, label: str = "s", *, length: int = 28, alphabet: str = BASE62) -> str:
        """Return a new unique secret to feed into a flow (a password, a key field ...).

        The prefix is short so that every 12-character window holds random characters.
        """
        prefix = f"{label[:4]}-" if label else ""
        secret = prefix + "".join(secrets.choice(alphabet) for _ in range(length))
        return self.add(secret, label=label or "planted")

    def add(self, secret: str, *, label: str = "given", shown_in=None) -> str:
        """Register a secret the flow produced.

        `shown_in`: the one response (or outbox mail) whose body is meant to show it.
        """
        assert len(secret) >= WINDOW, "a canary must be at least one window long"
        self.planted[secret] = label
        if shown_in is not None:
            body = _mail_body(shown_in) if hasattr(shown_in, "subject") else _body(shown_in)
            assert _b(secret) in body, "what shown_in names does not show the secret"
            self._shown.setdefault(id(shown_in), set()).add(secret)
        return secret

    # -- capture (started and stopped by the fixture) --

    def start(self, monkeypatch) -> None:
        """Record every log record at DEBUG and every response the process produces."""
        loggers = [logging.getLogger()] + [
            logger
            for logger in logging.root.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)
        ]
        self._restore = [(logger, logger.level, logger.disabled) for logger in loggers]
        self._disabled = logging.root.manager.disable
        logging.disable(logging.NOTSET)
        for logger in loggers:
            logger.setLevel(logging.DEBUG)
            logger.disabled = False
            # Loggers that do not propagate never reach the root's handlers.
            if logger is logging.root or not logger.propagate:
                logger.addHandler(self._handler)
        original = BaseHandler.get_response
        canary = self

        def get_response(handler, request):
            response = original(handler, request)
            label = f"{request.method} {request.get_full_path()} -> {response.status_code}"
            canary._seen.append(_Seen(label, response, _body(response), canary._revisiting))
            return response

        # Every request of the test client and of a live server passes through here.
        monkeypatch.setattr(BaseHandler, "get_response", get_response)

    def stop(self) -> None:
        for logger, level, disabled in self._restore:
            logger.removeHandler(self._handler)
            logger.setLevel(level)
            logger.disabled = disabled
        logging.disable(self._disabled)

    # -- probes: each yields every Place it covers --

    def logs_places(self) -> Iterator[Place]:
        for record in self._handler.records:
            yield Place(
                "logs", f"logger {record.name} ({record.levelname})", _b(_record_text(record))
            )

    def output_places(self) -> Iterator[Place]:
        captured = self.capfd.readouterr()
        self._out += captured.out
        self._err += captured.err
        yield Place("output", "stdout", _b(self._out))
        yield Place("output", "stderr", _b(self._err))

    def database_places(self) -> Iterator[Place]:
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
                columns = [c[0] for c in cursor.description]
                chunks = [
                    b"%s=%s" % (_b(column), _render(value))
                    for row in cursor.fetchall()
                    for column, value in zip(columns, row, strict=True)
                ]
                yield Place("database", f"table {table}", b"\n".join(chunks))

    def cache_places(self) -> Iterator[Place]:
        for alias, config in settings.CACHES.items():
            backend = config["BACKEND"].rsplit(".", 1)[-1]
            cache = caches[alias]
            if backend == "LocMemCache":
                # LocMemCache offers no public way to list its keys; read its store.
                chunks = [
                    _b(key) + b"=" + bytes(value) + b" " + _unpickled(value)
                    for key, value in list(cache._cache.items())
                ]
            elif backend == "RedisCache":
                chunks = list(_redis_chunks(config["LOCATION"]))
            elif backend == "FileBasedCache":
                chunks = [p.read_bytes() for p in Path(config["LOCATION"]).glob("*") if p.is_file()]
            elif backend in ("DatabaseCache", "DummyCache"):
                continue  # a table (the database probe reads it) or nothing at all
            else:
                raise AssertionError(f"the canary cannot read the {backend} cache {alias!r}")
            yield Place("cache", f"cache {alias} ({backend})", b"\n".join(chunks))

    def sessions_places(self) -> Iterator[Place]:
        engine = import_module(settings.SESSION_ENGINE)
        store = engine.SessionStore
        keys = {
            morsel.value
            for seen in self._seen
            for morsel in seen.response.cookies.values()
            if morsel.key == settings.SESSION_COOKIE_NAME and morsel.value
        }
        decoded: dict[str, dict] = {}
        if hasattr(store, "get_model_class"):
            for row in store.get_model_class().objects.all():
                decoded[row.session_key] = store().decode(row.session_data)
        for key in keys - set(decoded):
            decoded[key] = store(session_key=key).load()
        for key, data in decoded.items():
            yield Place("sessions", f"session {key[:8]}…", _render(data))

    def audit_places(self) -> Iterator[Place]:
        for entry in AuditEntry.objects.order_by("pk").values():
            where = f"audit entry {entry['pk'] if 'pk' in entry else entry['id']} {entry['action']}"
            yield Place("audit", where, _render(entry))

    def mail_places(self) -> Iterator[Place]:
        for index, message in enumerate(getattr(mail, "outbox", [])):
            where = f"mail {index}: {message.subject}"
            headers = _b(f"{message.subject}\n{message.to!r}\n{message.extra_headers!r}")
            yield Place("mail", f"headers of {where}", headers)
            excused = frozenset(self._shown.get(id(message), ()))
            yield Place("mail", f"body of {where}", _mail_body(message), excused)
        # What a real SMTP server of the test received (tests/mail.py), as it arrived.
        for server in SMTP_SERVERS:
            for index, received in enumerate(server.messages):
                where = f"smtp mail {index}: {received.subject}"
                headers = _b(f"{received.envelope_from}\n{received.to!r}\n")
                headers += bytes(received.parsed.as_bytes().partition(b"\n\n")[0])
                yield Place("mail", f"headers of {where}", headers)
                excused = frozenset(self._shown.get(id(received), ()))
                yield Place("mail", f"body of {where}", _mail_body(received), excused)

    def responses_places(self, *, later: bool = False) -> Iterator[Place]:
        for seen in self._seen:
            if seen.later != later:
                continue
            probe = "later" if later else "responses"
            yield Place(probe, f"headers of {seen.label}", _b(_headers(seen.response)))
            excused = frozenset(self._shown.get(id(seen.response), ()))
            yield Place(probe, f"body of {seen.label}", seen.body, excused)

    def later_places(self) -> Iterator[Place]:
        yield from self.responses_places(later=True)

    PROBES = ("logs", "output", "database", "cache", "sessions", "audit", "mail", "responses")

    def places(self, probes: Iterable[str] = PROBES) -> Iterator[Place]:
        for probe in probes:
            yield from getattr(self, f"{probe}_places")()

    # -- later pages --

    def revisit(self, principal) -> list[str]:
        """GET every console page and API read as the operator's root; return what was fetched."""
        self._revisiting = True
        try:
            return fetch_every_get(principal)
        finally:
            self._revisiting = False

    # -- the verdict --

    def findings(self, probes: Iterable[str] = PROBES) -> list[Finding]:
        """Return, per place and secret, the first form of the secret found there."""
        needles = {secret: forms_of(secret) for secret in self.planted}
        found: list[Finding] = []
        for place in self.places(probes):
            for secret, forms in needles.items():
                if secret in place.excused:
                    continue
                hit = next((form for needle, form in forms.items() if needle in place.data), None)
                if hit is not None:
                    found.append(Finding(place, self.planted[secret], hit))
        return found

    def assert_nowhere(self, *, revisit=None) -> None:
        """Fail naming every place that holds a form of a registered secret.

        `revisit`: a principal whose operator's pages are fetched afterwards (later pages).
        """
        assert self.planted, "nothing was planted: the scan would prove nothing"
        probes = list(self.PROBES)
        if revisit is not None:
            self.revisit(revisit)
            probes.append("later")
        self.scanned = True
        found = self.findings(probes)
        assert not found, "a secret leaked:\n" + "\n".join(f"  {f}" for f in found)


def _redis_chunks(location: str) -> Iterator[bytes]:
    client = Redis.from_url(location)
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            value = client.get(key) or b""
            values = [value, _unpickled(value)]
        elif kind == b"hash":
            values = [k + b"=" + v for k, v in client.hgetall(key).items()]
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(client.smembers(key))
        elif kind == b"zset":
            values = client.zrange(key, 0, -1)
        else:
            values = [repr(client.dump(key)).encode()]
        yield key + b"=" + b" ".join(values)


# --- later pages ------------------------------------------------------------------------

# Pages that must answer 200 on every revisit, or the "later pages" probe would prove little.
_MUST_ANSWER = ("/security/users/", "/security/authkeys/", "/security/credentials/",
                "/security/audit/", "/v1/credentials", "/v1/operators/{op}/users",
                "/v1/operators/{op}/auth_keys")  # fmt: skip
_NOT_REVISITED = ("admin/", "logout/", "v1/auth")  # the admin has its own tests; no sign-out
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
_MAX_VALUES = 3


def _values(operator_id: str) -> dict[str, list[str]]:
    """Return real path values of the operator's objects, per route parameter name."""

    def first(queryset, column: str) -> list[str]:
        return [
            str(v) for v in queryset.order_by("pk").values_list(column, flat=True)[:_MAX_VALUES]
        ]

    keys = AuthKey.objects.filter(operator_id=operator_id, slot__isnull=False)
    return {
        "operator_id": [operator_id],
        "user_name": first(
            Principal.objects.filter(operator_id=operator_id, kind="sam"), "user_name"
        ),
        "auth_key_id": first(keys, "key_id"),
        "key_id": first(keys, "key_id"),
        "credentials_id": first(
            CredentialSet.objects.filter(operator_id=operator_id), "credentials_id"
        ),
        "role_id": first(Role.objects.filter(operator_id=operator_id), "role_id"),
        "group_name": first(Group.objects.filter(operator_id=operator_id), "name"),
    }


def _urls(route: str, values: dict[str, list[str]]) -> list[str]:
    names = _PARAM.findall(route)
    urls = []
    for combo in product(*[values.get(name) or ["x"] for name in names]):
        chosen = dict(zip(names, combo, strict=True))
        urls.append("/" + _PARAM.sub(lambda m: chosen[m.group(1)], route))
    return urls


def _clients(operator_id: str) -> tuple[Client, dict, Client]:
    root = Principal.objects.get(operator_id=operator_id, kind=Principal.Kind.ROOT)
    console = Client()
    console.force_login(root, backend="accounts.backends.RootBackend")
    api_key, token = apisessions.create_session(root, timeout=600)
    staff = Principal.objects.create_staff(
        "canary-staff-" + secrets.token_hex(4),
        "Canary-Staff-" + secrets.token_hex(8),
        Principal.StaffRole.SUPPORT,
    )
    staff_client = Client()
    staff_client.force_login(staff, backend="accounts.backends.StaffBackend")
    return console, {"HTTP_X_SORACOM_API_KEY": api_key, "HTTP_X_SORACOM_TOKEN": token}, staff_client


def fetch_every_get(principal) -> list[str]:
    """GET every console page, staff page and API read of the principal's operator.

    Console and API as the operator's root, staff pages as a member of the staff; path values
    come from the operator's own objects. Every answer must be below 500, and the main lists
    must answer 200.
    """
    operator_id = principal.operator_id
    values = _values(operator_id)
    console, api_headers, staff = _clients(operator_id)
    fetched: dict[str, int] = {}
    for route in all_routes():
        if route.route.startswith(_NOT_REVISITED) or route.method not in ("", "GET"):
            continue
        for url in _urls(route.route, values):
            if route.kind == "api":
                response = Client().get(url, **api_headers)
            else:
                response = (staff if route.route.startswith("staff/") else console).get(url)
            fetched[url] = response.status_code
    broken = {url: status for url, status in fetched.items() if status >= 500}
    assert not broken, f"later pages failed: {broken}"
    for url in (u.format(op=operator_id) for u in _MUST_ANSWER):
        assert fetched.get(url) == 200, f"later page {url} answered {fetched.get(url)}"
    return sorted(fetched)
