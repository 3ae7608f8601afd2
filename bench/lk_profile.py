"""Where one request of each Latchkey path spends its time, in-process (run by bench/peers.py).

Reads a JSON spec on stdin ({"calls", "cprofile", "cases": [{"name", "method", "path",
"headers", "body"}]}), runs with Latchkey's settings from the environment, and calls the
WSGI handler directly (no HTTP server, no test client). For each case it prints:

- wall and CPU time per request without instrumentation;
- the request's time by phase (middleware, URL routing, django-ninja, authentication,
  token check, session lookup, authorization, the handler and the service functions it
  calls, audit), each phase's own time excluding the phases nested in it, plus the SQL it
  ran itself: statements, BEGINs and COMMITs, that is the round trips to the database;
- the statements of the median request, in order, with the phase that sent each.

Phases are found by the code objects of the functions (sys.monitoring, local events on
those functions only, so the rest of the request runs at full speed). Functions are looked
up by their qualified name in the project's loaded modules, preferring a module of the
hinted name, so that a module moved by a refactor is still found; a phase whose function
is gone is listed as not found and its time stays in the phase around it.
"""

import cProfile
import gc
import importlib
import inspect
import io
import json
import pstats
import re
import sys
import time
import types
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import DEFAULT_DB_ALIAS, connection, connections  # noqa: E402
from django.urls import resolve  # noqa: E402

PROJECT = ("console", "accounts", "security")
TOOL = 3  # sys.monitoring tool ids 3 and 4 are free (cProfile uses 2)
EVENTS = sys.monitoring.events
OUTSIDE = "Django middleware, WSGI"

# (label, module name hint, qualified name). Nested phases are indented in the output by
# the nesting seen at run time, not by this list.
PHASES = [
    ("URL routing, view dispatch", None, "django.core.handlers.base.BaseHandler._get_response"),
    ("django-ninja (parse, render)", None, "ninja.operation.Operation.run"),
    ("authentication (TokenAuth)", "api", "TokenAuth.__call__"),
    ("authentication (session checks)", "apisessions", "authenticate_request"),
    ("token check", "tokens", "verify"),
    ("session lookup", "apisessions", "_session_row"),
    ("@operation: call context", None, None),  # found from the URL, see handler_codes
    ("authorization (policy)", "policy", "is_allowed"),
    ("handler", None, None),
    ("user lookup", "users", "get_sam_user"),
    ("description update", "users", "update_description"),
    ("AuthKey exchange", "authkeys", "exchange"),
    ("throttle check", "throttle", "check"),
    ("key lookup", "authkeys", "_live_key_and_holder"),
    ("secret check (HMAC)", "authkeys", "_matching_pepper"),
    ("last-use update", "authkeys", "_note_use"),
    ("holder row lock", "rowlocks", "hold"),
    ("key hold (shared)", "authkeys", "hold_live"),
    ("throttle clear", "throttle", "clear"),
    ("session create", "apisessions", "create_session"),
    ("token signing", "tokens", "sign"),
    ("audit record", "audit", "record"),
    ("audit content MAC", "audit", "content_mac"),
    ("audit seal (after commit)", "audit", "seal"),
    ("audit digest", "audit", "entry_digest"),
]
ROUND_TRIP = {"SQL", "COMMIT", "ROLLBACK", "BEGIN"}


def _function(obj: object) -> types.FunctionType | None:
    obj = inspect.unwrap(obj) if callable(obj) else obj
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    return obj if isinstance(obj, types.FunctionType) else None


def _dotted(path: str) -> types.FunctionType | None:
    """Return the function at a dotted path (the longest importable module, then attributes)."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr, None)
        return _function(obj)
    return None


def _project_functions(qualname: str) -> list[tuple[str, types.FunctionType]]:
    found = []
    head, _, attr = qualname.rpartition(".")
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(PROJECT):
            continue
        owner = getattr(module, head, None) if head else module
        if owner is None:
            continue
        obj = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
        func = _function(obj)
        if func is None or func.__module__ != name:
            continue
        found.append((name, func))
    return found


def find(hint: str | None, qualname: str) -> types.FunctionType | None:
    """Return a project function (by module hint and qualname) or a dotted one (no hint)."""
    if hint is None:
        return _dotted(qualname)
    found = _project_functions(qualname)
    preferred = [f for name, f in found if name.rsplit(".", 1)[-1] == hint]
    pick = preferred or [f for _, f in found]
    return pick[0] if len(pick) == 1 or preferred else None


class Recorder:
    """Own time per phase (exclusive of nested phases) and the statements of one request."""

    def __init__(self, labels: dict[types.CodeType, str]) -> None:
        self.labels = labels
        self.reset()

    def reset(self) -> None:
        self.stack: list[tuple[str, types.CodeType | None, str]] = [(OUTSIDE, None, OUTSIDE)]
        self.own: dict[tuple[str, str], int] = defaultdict(int)
        self.count: dict[tuple[str, str], int] = defaultdict(int)
        self.statements: list[tuple[str, str, int]] = []
        self.order: list[tuple[int, str]] = []
        self.seen: set[str] = set()
        self.last = time.perf_counter_ns()
        self._sql_started = 0
        self._open = 0

    def _phase(self) -> str:
        for label, _, kind in reversed(self.stack):
            if kind not in ROUND_TRIP:
                return label
        return OUTSIDE

    def _accrue(self) -> int:
        now = time.perf_counter_ns()
        phase, _, kind = self.stack[-1]
        self.own[(phase, kind)] += now - self.last
        return now

    def start(self, code: types.CodeType, offset: int) -> None:
        now = self._accrue()
        kind = self.labels[code]
        if kind in ROUND_TRIP:
            phase = self._phase()
            self.count[(phase, kind)] += 1
            if kind == "SQL":
                query = sys._getframe(1).f_locals.get("query", "")
                if isinstance(query, bytes):
                    query = query.decode()
                elif not isinstance(query, str):
                    query = str(getattr(query, "_obj", query))
                self._open = len(self.statements)
                self.statements.append((phase, " ".join(query.split()), 0))
                self._sql_started = now
            elif kind != "BEGIN":
                self._open = len(self.statements)
                self.statements.append((phase, kind, 0))
                self._sql_started = now
            else:  # psycopg sends BEGIN within the execute of the statement that follows it
                where = self._open if self.stack[-1][2] == "SQL" else len(self.statements)
                self.statements.insert(where, (phase, "BEGIN (timed with the next statement)", 0))
                self._open += 1
            self.stack.append((phase, code, kind))
        else:
            if kind not in self.seen:
                self.seen.add(kind)
                depth = sum(1 for entry in self.stack if entry[2] not in ROUND_TRIP)
                self.order.append((depth, kind))
            self.stack.append((kind, code, kind))
        self.last = time.perf_counter_ns()

    def leave(self, code: types.CodeType, *rest: object) -> None:
        # No PY_UNWIND event (a global one slows every frame): a monitored function that
        # left by an exception is popped when its caller returns.
        if all(entry[1] is not code for entry in self.stack):
            return  # a return of a monitored function entered before recording began
        now = self._accrue()
        while True:
            _, popped, kind = self.stack.pop()
            if popped is code:
                break
        if kind in ("SQL", "COMMIT", "ROLLBACK"):
            phase, text, _ = self.statements[self._open]
            self.statements[self._open] = (phase, text, now - self._sql_started)
        self.last = time.perf_counter_ns()

    def close(self) -> None:
        self.last = self._accrue()


def environ(case: dict, n: int) -> dict:
    body = (case.get("body") or "").replace("{n}", str(n)).encode()
    env = {
        "REQUEST_METHOD": case["method"],
        "PATH_INFO": case["path"],
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in case.get("headers", {}).items():
        key = name.upper().replace("-", "_")
        env[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    return env


APP = WSGIHandler()


def send(case: dict, n: int) -> None:
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        statuses.append(status)

    result = APP(environ(case, n), start_response)
    try:
        b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    if not statuses[0].startswith("2"):
        raise SystemExit(f"{case['name']}: answered {statuses[0]}")


def handler_codes(case: dict) -> tuple[types.CodeType | None, types.CodeType | None]:
    """Return (the @operation wrapper's code or None, the handler's code) for a case's URL."""
    match = resolve(case["path"])
    cells = [cell.cell_contents for cell in match.func.__closure__ or ()]
    views = [view for view in cells if hasattr(view, "operations")]  # django-ninja's PathView
    for operation in views[0].operations if views else []:
        if case["method"] in operation.methods:
            outer = operation.view_func
            inner = inspect.unwrap(outer)
            wrapper = outer.__code__ if outer is not inner else None
            return wrapper, inner.__code__
    return None, _function(match.func).__code__


def driver_codes() -> dict[types.CodeType, str]:
    codes: dict[types.CodeType, str] = {}
    candidates = {
        "SQL": [
            "psycopg.Cursor.execute",
            "psycopg.Cursor.executemany",
            "django.db.backends.sqlite3.base.SQLiteCursorWrapper.execute",
            "django.db.backends.sqlite3.base.SQLiteCursorWrapper.executemany",
        ],
        # On SQLite Django sends BEGIN IMMEDIATE through the cursor: a statement like the rest.
        "BEGIN": ["psycopg._connection_base.BaseConnection._get_tx_start_command"],
    }
    for kind, paths in candidates.items():
        for path in paths:
            func = _dotted(path)
            if func is not None:
                codes[func.__code__] = kind
    wrapper = type(connections[DEFAULT_DB_ALIAS])
    for kind, attr in (("COMMIT", "_commit"), ("ROLLBACK", "_rollback")):
        func = _function(getattr(wrapper, attr))
        if func is not None:
            codes[func.__code__] = kind
    return codes


def middle_mean(values: list[float]) -> float:
    """Return the mean of the middle 80 % (the machine is shared: outliers are other jobs)."""
    values = sorted(values)
    cut = len(values) // 10
    kept = values[cut : len(values) - cut] or values
    return sum(kept) / len(kept)


def timed(case: dict, calls: int, counter: list[int]) -> tuple[float, float]:
    """Return (wall, CPU) microseconds per request, uninstrumented."""
    gc.collect()
    walls, cpus = [], []
    for _ in range(calls):
        counter[0] += 1
        started, cpu = time.perf_counter_ns(), time.process_time_ns()
        send(case, counter[0])
        walls.append(time.perf_counter_ns() - started)
        cpus.append(time.process_time_ns() - cpu)
    return middle_mean(walls) / 1e3, middle_mean(cpus) / 1e3


def profile_case(
    case: dict, calls: int, counter: list[int], base: dict, missing: list[str], phases: bool = True
):
    labels = dict(base)
    wrapper, handler = handler_codes(case) if phases else (None, None)
    for label, hint, qualname in PHASES if phases else []:
        if label == "handler":
            code = handler
        elif label.startswith("@operation"):
            code = wrapper
        else:
            func = find(hint, qualname) if qualname else None
            code = func.__code__ if func is not None else None
            if code is None and qualname and f"{label} ({qualname})" not in missing:
                missing.append(f"{label} ({qualname})")
        if code is not None and code not in labels:
            labels[code] = label
    recorder = Recorder(labels)
    mon = sys.monitoring
    mon.use_tool_id(TOOL, "lk_profile")
    mon.register_callback(TOOL, EVENTS.PY_START, recorder.start)
    mon.register_callback(TOOL, EVENTS.PY_RETURN, recorder.leave)
    for code in labels:
        mon.set_local_events(TOOL, code, EVENTS.PY_START | EVENTS.PY_RETURN)
    samples = []
    try:
        for _ in range(calls):
            counter[0] += 1
            recorder.reset()
            started = time.perf_counter_ns()
            send(case, counter[0])
            recorder.close()
            total = time.perf_counter_ns() - started
            samples.append(
                (
                    total,
                    dict(recorder.own),
                    dict(recorder.count),
                    recorder.statements,
                    recorder.order,
                )
            )
    finally:
        for code in labels:
            mon.set_local_events(TOOL, code, 0)
        mon.free_tool_id(TOOL)
    return samples


def describe_trips(counts: dict) -> str:
    """Describe a request's round trips to the database."""
    statements = sum(v for (_, k), v in counts.items() if k == "SQL")
    begins = sum(v for (_, k), v in counts.items() if k == "BEGIN")
    commits = sum(v for (_, k), v in counts.items() if k in ("COMMIT", "ROLLBACK"))
    total = statements + begins + commits
    return f"{statements} statements + {begins} BEGIN + {commits} COMMIT = {total} round trips"


def report(case: dict, plain: tuple[float, float], samples: list) -> None:
    samples.sort(key=lambda s: s[0])
    cut = len(samples) // 10
    middle = samples[cut : len(samples) - cut] or samples
    median = samples[len(samples) // 2]
    n = len(middle)

    def mean(key: tuple[str, str], table: int) -> float:
        return sum(s[table].get(key, 0) for s in middle) / n

    total = sum(s[0] for s in middle) / n / 1e3
    counts = median[2]
    wall, cpu = plain
    print(
        f"\n{case['name']}: {wall:,.0f} us wall, {cpu:,.0f} us CPU per request uninstrumented; "
        f"{total:,.0f} us instrumented; {describe_trips(counts)}"
    )
    print(
        f"  {'phase (own time, nested phases excluded)':<46}{'own us':>8}{'SQL us':>8}{'trips':>7}"
    )
    order = [(0, OUTSIDE)] + [(depth, label) for depth, label in median[4]]
    shown = 0.0
    for depth, label in order:
        own = mean((label, label), 1) / 1e3
        sql = sum(mean((label, k), 1) for k in ROUND_TRIP) / 1e3
        trips = sum(counts.get((label, k), 0) for k in ROUND_TRIP)
        shown += own + sql
        name = ("  " * depth + label)[:46]
        print(f"  {name:<46}{own:>8.0f}{sql:>8.0f}{trips:>7}")
    print(f"  {'total':<46}{shown:>8.0f}")
    sequences = [s[3] for s in middle]
    same = all([t for _, t, _ in seq] == [t for _, t, _ in median[3]] for seq in sequences)
    if same:
        print("  round trips of one request, in order (phase, mean us, statement):")
        rows = [
            (phase, text, sum(seq[i][2] for seq in sequences) / len(sequences))
            for i, (phase, text, _) in enumerate(median[3])
        ]
    else:
        print("  round trips of the median request, in order (phase, us, statement):")
        rows = [(phase, text, ns) for phase, text, ns in median[3]]
    for phase, text, ns in rows:
        text = re.sub(r"\s+", " ", text)
        shown_ns = f"{ns / 1e3:>7.0f}" if not text.startswith("BEGIN (timed") else " " * 7
        print(f"    {phase[:32]:<32}{shown_ns}  {text[:100]}")


def _per_call_us(work, calls: int) -> float:
    for _ in range(30):
        work()
    started = time.perf_counter()
    for _ in range(calls):
        work()
    return (time.perf_counter() - started) / calls * 1e6


def micro(calls: int, token: str) -> None:
    """Print the cost of one database round trip and of a token check without its cache."""

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    print(f"\nSELECT 1 through Django's cursor: {_per_call_us(select_one, calls):.0f} us")
    uncached = find("tokens", "_verify_uncached")
    if token and uncached is not None:
        cost = _per_call_us(lambda: uncached(token), calls)
        print(f"token signature check (uncached): {cost:.0f} us")


def main() -> None:
    spec = json.load(sys.stdin)
    calls, cases = spec["calls"], spec["cases"]
    counter = [0]
    for case in cases:
        for _ in range(30):
            counter[0] += 1
            send(case, counter[0])
    base = driver_codes()
    missing: list[str] = []
    if spec.get("intro", True):
        print(
            f"In-process, {connection.vendor}, the WSGI handler called directly; {calls} "
            "requests per path after 30 warm-up; times are means over the middle 80 % of "
            "requests by total (instrumentation adds a few us per monitored call)."
        )
    for case in cases:
        plain = timed(case, calls, counter)
        if case.get("profile", True):
            report(case, plain, profile_case(case, calls, counter, base, missing))
            continue
        counted = profile_case(case, 10, counter, base, missing, phases=False)
        counted.sort(key=lambda sample: sample[0])
        print(
            f"{case['name']}: {plain[0]:,.0f} us wall, {plain[1]:,.0f} us CPU per request; "
            f"{describe_trips(counted[len(counted) // 2][2])}"
        )
    if missing:
        print("\nphases not found (their time stays in the enclosing phase): " + "; ".join(missing))
    if spec.get("micro", True):
        micro(calls, spec.get("token", ""))
    if spec.get("cprofile"):
        for case in cases:
            if not case.get("profile", True):
                continue
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(calls):
                counter[0] += 1
                send(case, counter[0])
            profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime").print_stats(15)
            text = out.getvalue()
            print(f"\n--- cProfile, {case['name']}: functions by own time over {calls} calls ---")
            print(text[text.index("ncalls") :].rstrip())


if __name__ == "__main__":
    main()
