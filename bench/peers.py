"""Latchkey side by side with a Django floor and two DRF API-key peers, in one run.

Not a test: it prints figures (`make bench`). One run, on PostgreSQL or SQLite
(`--database`):

1. creates the databases (PostgreSQL: `bench_<pid>_latchkey` and `bench_<pid>_peers` on
   BENCH_DATABASE_URL's server, dropped at the end; SQLite: files in a temporary folder);
2. creates bench/.venv-peers from PyPI if needed (djangorestframework and
   djangorestframework-api-key 3.1, with the same Django, psycopg and gunicorn versions as
   Latchkey's .venv), migrates the peers' database and makes a DRF token and an API key;
3. migrates Latchkey's database with its production settings, and through its own
   interfaces (manage.py createoperator, then the API) makes one operator with a root
   AuthKey and 8 SAM users with one AuthKey each, and opens API sessions;
4. starts three gunicorn servers with the same settings (`--workers`, `--threads`,
   `--worker-class`, keep-alive): the floor (bench/floor: a plain JsonResponse behind
   Django's default middleware), the peers (bench/peer: DRF views behind
   djangorestframework-api-key's HasAPIKey and behind DRF's TokenAuthentication, each an
   authentication query and a listing query), and Latchkey;
5. drives every target with wrk on loopback (one thread and one keep-alive connection
   per client) in interleaved rounds, rotating the order each round, and takes each
   target's ratio to the floor within its round, then the median over rounds;
6. prints the table (req/s with its spread, ratio to the floor, p50/p99, errors), the
   targets of issue 13, how much other load the machine carried during each round;
7. restarts Latchkey and prints each worker's resident memory after 1,000 and after
   `--memory-requests` authenticated requests;
8. profiles one request of each Latchkey path in-process (bench/lk_profile.py).

The Latchkey targets: the authenticated `GET /v1/operators/{id}/auth_keys`; `POST
/v1/auth` with an AuthKey, all clients on one key, then each client on its own key of one
operator; and an audited write (`PUT /v1/operators/{id}/users/{name}`, a new description
each time) of one operator from one client, then from each client on its own user.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from importlib import metadata
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = Path(sys.executable)
PEERS_VENV = BENCH / ".venv-peers"
PEER_PACKAGES = ["djangorestframework>=3.16,<4", "djangorestframework-api-key>=3.1,<3.2"]
HZ = os.sysconf("SC_CLK_TCK")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--database-server",
        default=env("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server to create the bench_ databases on",
    )
    parser.add_argument("--rounds", type=int, default=int(env("BENCH_ROUNDS", "7")))
    parser.add_argument("--seconds", type=int, default=int(env("BENCH_SECONDS", "2")))
    parser.add_argument("--warmup", type=int, default=int(env("BENCH_WARMUP", "2")))
    parser.add_argument("--clients", type=int, default=int(env("BENCH_CLIENTS", "8")))
    parser.add_argument("--workers", type=int, default=int(env("BENCH_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(env("BENCH_THREADS", "4")))
    parser.add_argument("--worker-class", default=env("BENCH_WORKER_CLASS", "gthread"))
    parser.add_argument(
        "--memory-requests",
        type=int,
        default=int(env("BENCH_MEMORY_REQUESTS", "100000")),
        help="authenticated requests before the second memory reading (0: skip)",
    )
    parser.add_argument("--profile-calls", type=int, default=int(env("BENCH_PROFILE_CALLS", "300")))
    parser.add_argument("--cprofile", action="store_true", help="also print cProfile tables")
    parser.add_argument(
        "--profile-only", action="store_true", help="only the in-process Latchkey profile"
    )
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--redis-url", default="", help="REDIS_URL for Latchkey (default: none)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.rounds < 1 or args.seconds < 1:
        parser.error("--clients, --rounds and --seconds must be at least 1")
    return args


# --- processes and HTTP -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    """Return (status, parsed JSON or None) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, headers or {}, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def ok(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    status, answer = call(url, method, body, headers)
    if not 200 <= status < 300:
        raise RuntimeError(f"{method} {url} answered {status}: {answer}")
    return answer


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@dataclass
class Server:
    name: str
    gunicorn: Path
    module: str
    cwd: Path
    env: dict
    probe: str
    args: argparse.Namespace
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                str(self.gunicorn),
                self.module,
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={self.args.workers}",
                f"--worker-class={self.args.worker_class}",
                f"--threads={self.args.threads}",
                "--keep-alive=30",
                "--log-level=warning",
            ],
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
        )
        wait_for(self.base + self.probe)

    def workers(self) -> list[int]:
        if self.process is None:
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def machine_busy_ticks() -> int:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq + steal


# --- wrk ----------------------------------------------------------------------------------


def lua_string(text: str) -> str:
    level = "=" * 3
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


@dataclass
class Target:
    """One measured thing: every client sends `method` to its own (path, headers, body)."""

    name: str
    base: str
    method: str
    specs: list[dict]  # per client, cycled: {"path", "headers", "body"}; "{n}" counts up
    clients: int
    runs: list[dict] = field(default_factory=list)

    def lua(self, cap: int = 0, marker: str = "") -> str:
        rows = []
        for spec in self.specs:
            headers = ", ".join(
                f"[ {lua_string(k)} ] = {lua_string(v)}" for k, v in spec.get("headers", {}).items()
            )
            body = lua_string(spec["body"]) if spec.get("body") is not None else "nil"
            rows.append(
                f"  {{path = {lua_string(spec['path'])}, headers = {{{headers}}}, body = {body}}},"
            )
        vary = any("{n}" in (spec.get("body") or "") for spec in self.specs)
        script = [
            "local specs = {",
            *rows,
            "}",
            f"local method = {lua_string(self.method)}",
            f"local vary = {'true' if vary else 'false'}",
            "local next_client = 0",
            "function setup(thread)",
            "  thread:set('client', next_client)",
            "  next_client = next_client + 1",
            "end",
            "function init(args)",
            "  local spec = specs[client % #specs + 1]",
            "  my_path, my_headers, my_body = spec.path, spec.headers, spec.body",
            "  sent, seen = 0, 0",
            "  fixed = wrk.format(method, my_path, my_headers, my_body)",
            "end",
            "function request()",
            "  if not vary then return fixed end",
            "  sent = sent + 1",
            "  local body = my_body:gsub('{n}', client .. '-' .. sent)",
            "  return wrk.format(method, my_path, my_headers, body)",
            "end",
        ]
        if cap:
            # The memory phase: each client stops after `cap` answers and says so in a file
            # (wrk itself runs until its duration ends or SIGINT).
            script += [
                "function response(status, headers, body)",
                "  seen = seen + 1",
                f"  if seen == {cap} then",
                f"    local f = io.open({lua_string(marker)}, 'a'); f:write('done\\n'); f:close()",
                "    wrk.thread:stop()",
                "  end",
                "end",
            ]
        return "\n".join(script) + "\n"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(out: str) -> dict:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50": _ms(percentiles["50"]),
        "p99": _ms(percentiles["99"]),
        "errors": (int(non2xx.group(1)) if non2xx else 0) + sockets,
    }


def wrk_command(target: Target, script: str, seconds: int) -> list[str]:
    return [
        "wrk",
        f"-t{target.clients}",
        f"-c{target.clients}",
        f"-d{seconds}s",
        "--timeout=10s",
        "--latency",
        "-s",
        script,
        target.base + target.specs[0]["path"],
    ]


def wrk(target: Target, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(target.lua())
    try:
        done = subprocess.run(
            wrk_command(target, handle.name, seconds), capture_output=True, text=True, check=True
        )
    finally:
        os.unlink(handle.name)
    if done.stderr.strip():  # a Lua error: wrk carries on with its default request
        raise RuntimeError(f"wrk, {target.name}: {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def wrk_until(target: Target, per_client: int, limit_seconds: int) -> dict:
    """Send exactly per_client requests from each client (at most limit_seconds)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    marker, script = folder / "done", folder / "cap.lua"
    script.write_text(target.lua(cap=per_client, marker=str(marker)))
    process = subprocess.Popen(
        wrk_command(target, str(script), limit_seconds),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline and process.poll() is None:
            if marker.exists() and marker.read_text().count("done") >= target.clients:
                process.send_signal(signal.SIGINT)
                break
            time.sleep(0.05)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    if err.strip():
        raise RuntimeError(f"wrk, {target.name}: {err.strip()}")
    return parse_wrk(out)


# --- set-up -------------------------------------------------------------------------------


def b64(raw: bytes) -> str:
    return urlsafe_b64encode(raw).decode().rstrip("=")


def latchkey_env(database_url: str, redis_url: str) -> dict[str, str]:
    """Return the environment of a production deployment with throwaway keys."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signing = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LATCHKEY_", "DJANGO_"))}
    env.pop("REDIS_URL", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "LATCHKEY_PEPPER": secrets.token_urlsafe(32),
            "LATCHKEY_JWT_KEYS": "bench1:" + b64(signing),
            "LATCHKEY_MASTER_KEYS": "bench1:" + b64(secrets.token_bytes(32)),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            "CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            # No collectstatic for a benchmark: whitenoise's warning says nothing here.
            "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def django_env(settings: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LATCHKEY_", "DJANGO_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONPATH": str(BENCH),
            **extra,
        }
    )
    return env


def peer_pins() -> list[str]:
    """Return the peers' requirements: Latchkey's own Django, psycopg and gunicorn versions."""
    pins = [f"{name}=={metadata.version(name)}" for name in ("Django", "gunicorn")]
    pins.append(f"psycopg[binary]=={metadata.version('psycopg')}")
    return pins + PEER_PACKAGES


def ensure_peers_venv() -> dict[str, str]:
    """Create or refresh bench/.venv-peers; return the versions installed there."""
    wanted = "\n".join(peer_pins())
    stamp = PEERS_VENV / ".bench-requirements"
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"creating {PEERS_VENV.relative_to(ROOT)} ({', '.join(peer_pins())}) ...", flush=True)
        subprocess.run([str(PYTHON), "-m", "venv", "--clear", str(PEERS_VENV)], check=True)
        pip = [str(PEERS_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, *peer_pins()], check=True)
        stamp.write_text(wanted)
    listing = subprocess.run(
        [str(PEERS_VENV / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {p["name"].lower(): p["version"] for p in json.loads(listing.stdout)}


@dataclass
class Databases:
    kind: str
    server: str
    # BENCH_DB_PREFIX names the databases on a shared server (default bench_<pid>).
    prefix: str = field(
        default_factory=lambda: f"{os.environ.get('BENCH_DB_PREFIX', 'bench')}_{os.getpid()}"
    )
    folder: Path | None = None

    def url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.folder / (name + '.sqlite3')}"
        parts = urlsplit(self.server)
        return urlunsplit(parts._replace(path=f"/{self.prefix}_{name}"))

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> None:
        if self.kind == "sqlite":
            self.folder = Path(tempfile.mkdtemp(prefix="bench-sqlite-"))
            return
        for name in ("latchkey", "peers"):
            self._admin(f'CREATE DATABASE "{self.prefix}_{name}"')

    def drop(self) -> None:
        if self.kind == "sqlite":
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
            return
        for name in ("latchkey", "peers"):
            self._admin(f'DROP DATABASE IF EXISTS "{self.prefix}_{name}" WITH (FORCE)')

    def backends(self) -> list[int]:
        """Return the PIDs of the PostgreSQL backends serving the benchmark's databases."""
        if self.kind == "sqlite":
            return []
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname LIKE %s", [self.prefix + "\\_%"]
            ).fetchall()
        return [pid for (pid,) in rows]

    def describe(self) -> str:
        if self.kind == "sqlite":
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version} (WAL)"
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        return f"PostgreSQL {version.split()[0]}"


@dataclass
class Fixture:
    operator_id: str
    root_headers: dict
    user_names: list[str]
    user_keys: list[dict]
    sessions: list[dict]  # one root session per client, opened from the root AuthKey
    peer_token: str
    peer_api_key: str


def make_latchkey_fixture(env: dict, base: str, clients: int) -> Fixture:
    """Make an operator, a root AuthKey and its sessions, SAM users with one AuthKey each.

    Only the operator comes from manage.py; the rest goes through the API, as a client would.
    """
    password = secrets.token_urlsafe(16) + "-Bench-1"
    email = f"bench-{secrets.token_hex(4)}@example.com"
    created = subprocess.run(
        [str(PYTHON), "manage.py", "createoperator", "--email", email, "--password-stdin"],
        cwd=ROOT,
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    operator_id = created.stdout.strip().splitlines()[-1]
    session = ok(base + "/v1/auth", "POST", {"email": email, "password": password})
    headers = {"X-Soracom-API-Key": session["apiKey"], "X-Soracom-Token": session["token"]}
    op = f"{base}/v1/operators/{operator_id}"
    root_key = ok(op + "/auth_keys", "POST", None, headers)
    root_creds = {k: root_key[k] for k in ("authKeyId", "authKey")}
    sessions = []
    for _ in range(clients):
        opened = ok(base + "/v1/auth", "POST", root_creds)
        sessions.append({"X-Soracom-API-Key": opened["apiKey"], "X-Soracom-Token": opened["token"]})
    names, keys = [], []
    for n in range(clients):
        name = f"bench-user-{n + 1}"
        ok(f"{op}/users/{name}", "POST", {"description": "bench"}, sessions[0])
        key = ok(f"{op}/users/{name}/auth_keys", "POST", None, sessions[0])
        names.append(name)
        keys.append({"authKeyId": key["authKeyId"], "authKey": key["authKey"]})
    return Fixture(operator_id, sessions[0], names, keys, sessions, "", "")


# --- the measurement ----------------------------------------------------------------------


def targets(args, floor: Server, peer: Server, lk: Server, fx: Fixture) -> list[Target]:
    c = args.clients
    json_type = {"Content-Type": "application/json"}
    keys_path = f"/v1/operators/{fx.operator_id}/auth_keys"
    users = f"/v1/operators/{fx.operator_id}/users/"
    description = '{"description": "bench write {n}"}'
    return [
        Target("floor: Django JsonResponse", floor.base, "GET", [{"path": "/floor"}], c),
        Target(
            "peer: drf-api-key HasAPIKey",
            peer.base,
            "GET",
            [{"path": "/apikey/keys", "headers": {"Authorization": f"Api-Key {fx.peer_api_key}"}}],
            c,
        ),
        Target(
            "peer: DRF TokenAuthentication",
            peer.base,
            "GET",
            [{"path": "/token/keys", "headers": {"Authorization": f"Token {fx.peer_token}"}}],
            c,
        ),
        Target("Latchkey GET /healthz (no auth)", lk.base, "GET", [{"path": "/healthz"}], c),
        Target(
            "Latchkey GET auth_keys (token)",
            lk.base,
            "GET",
            [{"path": keys_path, "headers": fx.root_headers}],
            c,
        ),
        Target(
            "Latchkey POST /auth, 1 key",
            lk.base,
            "POST",
            [{"path": "/v1/auth", "headers": json_type, "body": json.dumps(fx.user_keys[0])}],
            c,
        ),
        Target(
            f"Latchkey POST /auth, {c} keys",
            lk.base,
            "POST",
            [
                {"path": "/v1/auth", "headers": json_type, "body": json.dumps(key)}
                for key in fx.user_keys[:c]
            ],
            c,
        ),
        Target(
            "Latchkey audited write, 1 client",
            lk.base,
            "PUT",
            [
                {
                    "path": users + fx.user_names[0],
                    "headers": {**fx.root_headers, **json_type},
                    "body": description,
                }
            ],
            1,
        ),
        Target(
            f"Latchkey audited write, {c} clients",
            lk.base,
            "PUT",
            [
                {
                    "path": users + name,
                    "headers": {**fx.root_headers, **json_type},
                    "body": description,
                }
                for name in fx.user_names[:c]
            ],
            c,
        ),
    ]


def check_targets(items: list[Target]) -> None:
    """Send each target's first request once: a broken target must not pass for a fast one."""
    for target in items:
        spec = target.specs[0]
        body = (spec.get("body") or "").replace("{n}", "check")
        status, answer = call(
            target.base + spec["path"],
            target.method,
            json.loads(body) if body else None,
            {k: v for k, v in spec.get("headers", {}).items() if k != "Content-Type"},
        )
        if status != 200:
            raise RuntimeError(f"{target.name}: answered {status}: {answer}")


def measure(args, items: list[Target], dbs: Databases, servers: list[Server]) -> list[dict]:
    """Run every target in interleaved rounds; return the load notes of each round.

    Each round runs the floor, then each other target followed by the floor again (the
    targets' order rotated round by round), and every run remembers the mean of the two
    floor runs around it: the machine's load moves within seconds, and a ratio to the floor
    measured just before and just after follows it far better than one to a floor measured
    half a minute earlier.
    """
    floor, others = items[0], items[1:]
    for target in items:
        wrk(target, args.warmup)
    notes = []
    for round_no in range(args.rounds):
        shift = round_no % len(others)
        order = others[shift:] + others[:shift]
        ours = [pid for s in servers for pid in [s.process.pid, *s.workers()]] + dbs.backends()
        children = os.times()
        before = (machine_busy_ticks(), sum(cpu_ticks(p) for p in ours), time.monotonic())
        floors = [wrk(floor, args.seconds)]
        for target in order:
            run = wrk(target, args.seconds)
            floors.append(wrk(floor, args.seconds))
            run["floor"] = (floors[-2]["rps"] + floors[-1]["rps"]) / 2
            run["round"] = round_no
            target.runs.append(run)
        for run in floors:
            run["floor"], run["round"] = run["rps"], round_no
        floor.runs.extend(floors)
        ours = set(ours) | set(dbs.backends())
        after_children = os.times()
        wrk_ticks = (
            after_children.children_user
            + after_children.children_system
            - children.children_user
            - children.children_system
        ) * HZ
        busy = machine_busy_ticks() - before[0]
        own = sum(cpu_ticks(p) for p in ours) - before[1] + wrk_ticks
        elapsed = time.monotonic() - before[2]
        notes.append(
            {
                "busy": busy / HZ / elapsed,
                "ours": own / HZ / elapsed,
                "other": (busy - own) / HZ / elapsed,
            }
        )
    return notes


def median_of(values: list[float]) -> float:
    return statistics.median(values)


def summarize(items: list[Target]) -> list[dict]:
    peers = items[1:3]
    results = []
    for target in items:
        rounds = target.runs
        by_rps = sorted(rounds, key=lambda r: r["rps"])
        middle = by_rps[len(by_rps) // 2]
        ratios = [r["rps"] / r["floor"] for r in rounds]
        # Against the better peer of the same round, each normalized by its own floor.
        best_peer = [
            (r["rps"] / r["floor"]) / max(p1["rps"] / p1["floor"], p2["rps"] / p2["floor"])
            for r, p1, p2 in zip(rounds, peers[0].runs, peers[1].runs, strict=False)
        ]
        results.append(
            {
                "name": target.name,
                "clients": target.clients,
                "rps": median_of([r["rps"] for r in rounds]),
                "spread": (by_rps[0]["rps"], by_rps[-1]["rps"]),
                "ratio": median_of(ratios),
                "ratios": (min(ratios), max(ratios)),
                "vs_peer": median_of(best_peer),
                "p50": middle["p50"],
                "p99": middle["p99"],
                "errors": sum(r["errors"] for r in rounds),
                "per_round": [r["rps"] for r in rounds],
                "adjacent": median_of(
                    [
                        abs(a["rps"] - b["rps"]) / ((a["rps"] + b["rps"]) / 2)
                        for a, b in pairwise(rounds)
                        if a["round"] == b["round"]
                    ]
                    or [0.0]
                ),
            }
        )
    return results


def print_table(args, results: list[dict], notes: list[dict], header: str) -> None:
    print(header)
    print(
        f"{'target':<38}{'clients':>8}{'req/s':>8}{'(min-max)':>13}{'of floor':>9}"
        f"{'(min-max)':>12}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
    )
    for r in results:
        spread = f"{r['spread'][0]:.0f}-{r['spread'][1]:.0f}"
        ratios = f"{r['ratios'][0]:.2f}-{r['ratios'][1]:.2f}"
        print(
            f"{r['name']:<38}{r['clients']:>8}{r['rps']:>8.0f}{spread:>13}{r['ratio']:>9.2f}"
            f"{ratios:>12}{r['p50']:>8.2f}{r['p99']:>8.2f}{r['errors']:>7}"
        )
    print(
        "(req/s: median over runs, with the slowest and fastest; of floor: median over rounds "
        "of req/s / the mean of the floor runs just before and just after; p50, p99: the "
        "median run)"
    )
    by = {r["name"]: r for r in results}
    c = args.clients
    get = by["Latchkey GET auth_keys (token)"]
    one_key, many_keys = by["Latchkey POST /auth, 1 key"], by[f"Latchkey POST /auth, {c} keys"]
    w1, wn = by["Latchkey audited write, 1 client"], by[f"Latchkey audited write, {c} clients"]
    scaling = median_of([n / o for n, o in zip(wn["per_round"], w1["per_round"], strict=True)])

    def verdict(value: float, goal: float) -> str:
        return f"{value:.2f} ({'met' if value >= goal else 'MISSED'})"

    print("targets (issue 13):")
    print(f"  authenticated GET >= 0.50 of the floor: {verdict(get['ratio'], 0.5)}")
    print(
        f"  authenticated GET >= 1.30x the best peer (same round): {verdict(get['vs_peer'], 1.3)}"
    )
    print(
        f"  POST /auth, {c} clients on one key >= 0.30 of the floor: "
        f"{verdict(one_key['ratio'], 0.3)}"
    )
    print(
        f"  POST /auth, {c} clients on {c} keys of one operator >= 0.30 of the floor: "
        f"{verdict(many_keys['ratio'], 0.3)}"
    )
    print(
        f"  audited writes of one operator, {c} clients / 1 client: {scaling:.2f}x, median of "
        f"the rounds' ratios (medians {wn['rps']:.0f} and {w1['rps']:.0f} req/s; 1.00x = "
        "serialized)"
    )
    floor_runs = results[0]["per_round"]
    spread = (max(floor_runs) - min(floor_runs)) / median_of(floor_runs)
    print(
        f"noise: the floor's runs spread over {spread:.0%} of their median (min to max), and "
        f"two floor runs around one target differed by {results[0]['adjacent']:.0%} (median); "
        "other load on the machine per round, in cores: "
        + " ".join(f"{n['other']:.2f}" for n in notes)
        + f" (the benchmark itself used {median_of([n['ours'] for n in notes]):.2f}, "
        f"the machine {median_of([n['busy'] for n in notes]):.2f} of {os.cpu_count()})"
    )
    if args.markdown:
        print("\n| target | clients | req/s | of the floor | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in results:
            print(
                f"| {r['name']} | {r['clients']} | {r['rps']:,.0f} | {r['ratio']:.2f} | "
                f"{r['p50']:.2f} | {r['p99']:.2f} |"
            )


def memory_phase(args, lk: Server, fx: Fixture) -> None:
    """Print each Latchkey worker's RSS after 1,000 and after --memory-requests requests.

    The first 1,000 requests each open a new connection (Connection: close), so that every
    worker serves its share before the first reading: keep-alive connections stay with the
    worker that accepted them, and a worker that accepted none would read as cold. The rest
    go over keep-alive connections, reopened every 10,000 requests for the same reason.
    Each worker's CPU seconds are printed beside its memory to show the work it did.
    """
    c = args.clients
    lk.start()
    path = f"/v1/operators/{fx.operator_id}/auth_keys"
    specs = [{"path": path, "headers": h} for h in fx.sessions]
    closing = [{"path": path, "headers": {**h, "Connection": "close"}} for h in fx.sessions]

    def reading(total: int, errors: int) -> tuple[int, int, dict]:
        workers = {pid: (rss_mib(pid), cpu_ticks(pid) / HZ) for pid in lk.workers()}
        return total, errors, workers

    first = wrk_until(Target("memory", lk.base, "GET", closing, c), max(1, 1000 // c), 120)
    total, errors = first["requests"], first["errors"]
    readings = [reading(total, errors)]
    chunk = 10_000
    while total < args.memory_requests:
        per_client = max(1, min(chunk, args.memory_requests - total) // c)
        run = wrk_until(Target("memory", lk.base, "GET", specs, c), per_client, 600)
        total, errors = total + run["requests"], errors + run["errors"]
    readings.append(reading(total, errors))
    lk.stop()
    (n1, _, before), (n2, errors, after) = readings
    print(
        f"\nresident memory per Latchkey worker (fresh server, authenticated GET auth_keys, "
        f"{c} clients on {len(fx.sessions)} sessions; errors {errors}):"
    )
    for pid, (rss, cpu) in before.items():
        rss2, cpu2 = after.get(pid, (0.0, 0.0))
        change = (rss2 - rss) / rss
        print(
            f"  worker {pid}: {rss:.1f} MiB after {n1:,} requests ({cpu:.1f} CPU s), "
            f"{rss2:.1f} MiB after {n2:,} ({cpu2:.1f} CPU s): {change:+.1%} "
            f"(target within 10 %: {'met' if abs(change) <= 0.10 else 'MISSED'})"
        )


def run_profile(python: Path, env: dict, spec: dict) -> None:
    done = subprocess.run(
        [str(python), str(BENCH / "lk_profile.py")],
        cwd=ROOT,
        env=env,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
    )
    print(done.stdout.rstrip())
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        raise RuntimeError("bench/lk_profile.py failed")


def profile(args, envs: dict[str, dict], fx: Fixture) -> None:
    """Print the in-process cost of every target, then the profile of each Latchkey path."""
    plain = {"calls": args.profile_calls, "intro": False, "micro": False}
    print(
        f"\nIn-process cost per request ({args.database}; the WSGI handler called directly, no "
        f"HTTP server; {args.profile_calls} requests after 30 warm-up, mean of the middle 80 %):"
    )
    run_profile(
        PYTHON,
        envs["floor"],
        {
            **plain,
            "cases": [{"name": "floor", "method": "GET", "path": "/floor", "profile": False}],
        },
    )
    peer_cases = [
        ("peer: drf-api-key", "/apikey/keys", f"Api-Key {fx.peer_api_key}"),
        ("peer: DRF token", "/token/keys", f"Token {fx.peer_token}"),
    ]
    run_profile(
        PEERS_VENV / "bin" / "python",
        envs["peers"],
        {
            **plain,
            "cases": [
                {
                    "name": name,
                    "method": "GET",
                    "path": path,
                    "headers": {"Authorization": auth},
                    "profile": False,
                }
                for name, path, auth in peer_cases
            ],
        },
    )
    run_profile(
        PYTHON,
        envs["latchkey"],
        {
            **plain,
            "cases": [
                {
                    "name": "Latchkey /healthz",
                    "method": "GET",
                    "path": "/healthz",
                    "profile": False,
                },
                {
                    "name": "Latchkey GET auth_keys",
                    "method": "GET",
                    "path": f"/v1/operators/{fx.operator_id}/auth_keys",
                    "headers": fx.root_headers,
                    "profile": False,
                },
            ],
        },
    )
    spec = latchkey_profile_spec(args, fx)
    print(
        "\nProfile of one request of each Latchkey path (same method; phase times are means "
        "over the middle 80 % of requests; instrumentation adds a few us per monitored call):"
    )
    run_profile(PYTHON, envs["latchkey"], spec)


def latchkey_profile_spec(args, fx: Fixture) -> dict:
    """Return the spec of bench/lk_profile.py for the three Latchkey paths."""
    return {
        "calls": args.profile_calls,
        "cprofile": args.cprofile,
        "token": fx.root_headers["X-Soracom-Token"],
        "intro": False,
        "cases": [
            {
                "name": "GET /v1/operators/{id}/auth_keys",
                "method": "GET",
                "path": f"/v1/operators/{fx.operator_id}/auth_keys",
                "headers": fx.root_headers,
            },
            {
                "name": "POST /v1/auth (AuthKey)",
                "method": "POST",
                "path": "/v1/auth",
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps(fx.user_keys[0]),
            },
            {
                "name": "PUT /v1/operators/{id}/users/{name} (audited write)",
                "method": "PUT",
                "path": f"/v1/operators/{fx.operator_id}/users/{fx.user_names[0]}",
                "headers": {**fx.root_headers, "Content-Type": "application/json"},
                "body": '{"description": "profile {n}"}',
            },
        ],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench/peers.py needs wrk: apt-get install -y wrk", file=sys.stderr)
        return 2
    versions = ensure_peers_venv()
    dbs = Databases(args.database, args.database_server)
    dbs.create()
    servers: list[Server] = []
    try:
        started = time.monotonic()
        lk_env = latchkey_env(dbs.url("latchkey"), args.redis_url)
        peer_env = django_env("peer.settings", BENCH_DB_URL=dbs.url("peers"))
        subprocess.run(
            [str(PYTHON), "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=lk_env,
            check=True,
        )
        made = subprocess.run(
            [str(PEERS_VENV / "bin" / "python"), str(BENCH / "peer" / "fixture.py")],
            cwd=BENCH,
            env=peer_env,
            capture_output=True,
            text=True,
            check=True,
        )
        peer_keys = json.loads(made.stdout.strip().splitlines()[-1])
        floor = Server(
            "floor",
            PYTHON.with_name("gunicorn"),
            "floor.wsgi",
            BENCH,
            django_env("floor.settings"),
            "/floor",
            args,
        )
        peer = Server(
            "peers",
            PEERS_VENV / "bin" / "gunicorn",
            "peer.wsgi",
            BENCH,
            peer_env,
            "/token/keys",
            args,
        )
        lk = Server(
            "latchkey", PYTHON.with_name("gunicorn"), "console.wsgi", ROOT, lk_env, "/healthz", args
        )
        servers = [lk] if args.profile_only else [floor, peer, lk]
        for server in servers:
            server.start()
        fx = make_latchkey_fixture(lk_env, lk.base, args.clients)
        if args.profile_only:
            lk.stop()
            print("\nProfile of one request of each Latchkey path (in-process):")
            run_profile(PYTHON, lk_env, latchkey_profile_spec(args, fx))
            return 0
        fx.peer_token, fx.peer_api_key = peer_keys["token"], peer_keys["apiKey"]
        items = targets(args, floor, peer, lk, fx)
        check_targets(items)
        notes = measure(args, items, dbs, servers)
        results = summarize(items)
        after_rounds = {pid: rss_mib(pid) for pid in lk.workers()}
        rounds_requests = sum(r["requests"] for t in items[3:] for r in t.runs)
        header = (
            f"Latchkey side by side, {dbs.describe()}: gunicorn {args.workers} {args.worker_class} "
            f"workers x {args.threads} threads for every target, production settings, persistent "
            f"connections; wrk on loopback, one thread and one keep-alive connection per client; "
            f"{args.rounds} interleaved rounds of {args.seconds} s after {args.warmup} s warm-up; "
            f"{os.cpu_count()} CPUs shared with the load generator and other jobs.\n"
            f"Peers (bench/.venv-peers): Django {versions.get('django')}, djangorestframework "
            f"{versions.get('djangorestframework')}, djangorestframework-api-key "
            f"{versions.get('djangorestframework-api-key')}; "
            f"Latchkey: Django {metadata.version('Django')}, "
            f"django-ninja {metadata.version('django-ninja')}, Python {sys.version.split()[0]}."
        )
        print()
        print_table(args, results, notes, header)
        print(
            "Latchkey worker memory after the rounds (~{:,} requests of every kind): {}".format(
                rounds_requests, ", ".join(f"{v:.1f} MiB" for v in after_rounds.values())
            )
        )
        for server in servers:
            server.stop()
        if args.memory_requests > 1000:
            memory_phase(args, lk, fx)
        profile(args, {"floor": floor.env, "peers": peer_env, "latchkey": lk_env}, fx)
        print(f"\n(the whole run took {time.monotonic() - started:.0f} s)")
        return 1 if any(r["errors"] for r in results) else 0
    finally:
        for server in servers:
            server.stop()
        dbs.drop()


if __name__ == "__main__":
    sys.exit(main())
