"""Benchmark the API's hot paths against /healthz, with production settings on PostgreSQL.

Not a test: it prints figures. One run:
1. creates a fresh PostgreSQL database (BENCH_DATABASE_URL's server, default
   postgres://postgres@127.0.0.1:5432/postgres), migrates it with the production settings
   (DEBUG off, explicit throwaway keys, CONN_MAX_AGE=600, SECURE_SSL_REDIRECT=false
   because this is plain http on loopback), and creates an operator with an AuthKey;
2. starts gunicorn (BENCH_WORKERS gthread workers x BENCH_THREADS threads, keep-alive);
3. drives it with wrk (C, one thread, keep-alive connections; `apt-get install wrk`) and
   Lua scripts for /healthz (the floor), POST /v1/auth with the AuthKey, and an
   authenticated GET /v1/operators/{id}/auth_keys: BENCH_ROUNDS interleaved rounds of
   BENCH_SECONDS each after a warm-up, keeping each endpoint's median round;
4. prints requests/s, p50 and p99 latency and each one's ratio to the floor, taken within
   each round (the machine is shared; its load moves) and then the median over rounds;
5. profiles one authenticated request in-process (cProfile over BENCH_PROFILE_CALLS calls)
   and prints where the time goes; then stops gunicorn and drops the database.

Usage: `make bench` (or `.venv/bin/python bench/auth.py`). Targets: authenticated GET at
>= 0.5 of the floor, /auth at >= 0.3.
"""

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECONDS = int(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
PROFILE_CALLS = int(os.environ.get("BENCH_PROFILE_CALLS", "300"))
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def production_env(database_url: str) -> dict[str, str]:
    """Return the environment of a production deployment with throwaway keys."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signing = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LATCHKEY_", "DJANGO_"))}
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
        }
    )
    env.pop("REDIS_URL", None)
    return env


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql)


SETUP = """
import json
import django
django.setup()
from accounts.models import Operator, Principal
from security import authkeys
operator = Operator.create()
root = Principal.objects.create_root(operator, "bench@example.com", "bench-Password-1234")
key, secret = authkeys.generate(None, root, root)
print(json.dumps({"operatorId": operator.id, "authKeyId": key.key_id, "authKey": secret}))
"""

PROFILE = """
import cProfile, io, json, pstats, sys, time
import django
django.setup()
import psycopg
from django.test import Client
path, api_key, token, creds = sys.argv[1:5]
calls = int(sys.argv[5])
client = Client(HTTP_X_SORACOM_API_KEY=api_key, HTTP_X_SORACOM_TOKEN=token)
cases = {
    "GET /healthz": lambda: client.get("/healthz"),
    "GET auth_keys": lambda: client.get(path),
    "POST /v1/auth": lambda: client.post("/v1/auth", creds, content_type="application/json"),
}
statements = []
execute = psycopg.Cursor.execute
def counting(self, query, *args, **kwargs):
    statements.append(query)
    return execute(self, query, *args, **kwargs)
for name, send in cases.items():
    for _ in range(30):
        assert send().status_code == 200
    psycopg.Cursor.execute = counting
    statements.clear()
    send()
    psycopg.Cursor.execute = execute
    count = len(statements)
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        send()
    took = (time.perf_counter() - started) / calls
    cpu = (time.process_time() - cpu) / calls
    print(
        f"{name:<16} {took * 1e6:6.0f} us wall, {cpu * 1e6:6.0f} us Python CPU per request, "
        f"{count} SQL statements"
    )
from accounts import tokens
now = int(time.time())
started = time.perf_counter()
for _ in range(calls):
    tokens._verify_uncached(token)
uncached = (time.perf_counter() - started) / calls
started = time.perf_counter()
for _ in range(calls):
    tokens.verify(token, now)
cached = (time.perf_counter() - started) / calls
print(f"token check: {uncached * 1e6:.0f} us with the signature, {cached * 1e6:.0f} us cached")
from django.db import connection
from accounts import apisessions
jti = tokens.verify(token, now)["jti"]
def timed(work):
    for _ in range(30):
        work()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        work()
    return (time.perf_counter() - started) / calls, (time.process_time() - cpu) / calls
def select_one():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
for label, work in (
    ("SELECT 1 round trip", select_one),
    ("session lookup", lambda: apisessions._session_row(jti)),
):
    wall, cpu = timed(work)
    print(f"{label:<20} {wall * 1e6:6.0f} us wall, {cpu * 1e6:6.0f} us Python CPU")
for name in ("GET auth_keys", "POST /v1/auth"):
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        cases[name]()
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime").print_stats(12)
    text = out.getvalue()
    print(f"--- {name}: functions by own time ---")
    print(text[text.index("ncalls"):].rstrip())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def lua_script(method: str, body: str | None, headers: dict[str, str]) -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    for name, value in headers.items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    # Count non-2xx answers so that a broken run cannot pass for a fast one.
    lines.append(
        "local bad = 0\n"
        "function response(status, headers, body) if status >= 300 then bad = bad + 1 end end\n"
        'function done(summary, latency, requests) io.write("NON2XX ", bad, "\\n") end'
    )
    return "\n".join(lines) + "\n"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, script: str, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        done = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    out = done.stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(percentiles["50"]),
        "p99": _ms(percentiles["99"]),
        "errors": int(re.search(r"NON2XX (\d+)", out).group(1))
        + sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
    }


def measure(cases: list[tuple[str, str, str]]) -> list[dict]:
    """Run every case ROUNDS times, interleaved; keep medians and per-round ratios.

    The machine is shared and its load moves within seconds: each round measures all the
    cases back to back, and each ratio is taken within its own round (against the floor
    measured just before), then the median over the rounds is kept.
    """
    for _, url, script in cases:
        wrk(url, script, WARMUP)
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in cases}
    floor_name = cases[0][0]
    for _ in range(ROUNDS):
        for name, url, script in cases:
            runs[name].append(wrk(url, script, SECONDS))
    for name, _, _ in cases:
        for run, floor in zip(runs[name], runs[floor_name], strict=True):
            run["ratio"] = run["rps"] / floor["rps"]
    results = []
    for name, _, _ in cases:
        rounds = runs[name]
        by_rps = sorted(rounds, key=lambda r: r["rps"])
        median = dict(by_rps[len(by_rps) // 2])
        median["name"] = name
        median["errors"] = sum(r["errors"] for r in rounds)
        median["spread"] = (by_rps[0]["rps"], by_rps[-1]["rps"])
        ratios = sorted(r["ratio"] for r in rounds)
        median["ratio"] = ratios[len(ratios) // 2]
        median["ratios"] = (ratios[0], ratios[-1])
        results.append(median)
    return results


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench/auth.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    name = f"lk_bench_{os.getpid()}"
    database_url = with_database(SERVER_URL, name)
    env = production_env(database_url)
    admin_sql(f'CREATE DATABASE "{name}"')
    server = None
    try:
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
        )
        setup = subprocess.run(
            [PYTHON, "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        fixture = json.loads(setup.stdout.strip().splitlines()[-1])
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                str(Path(PYTHON).with_name("gunicorn")),
                "console.wsgi",
                f"--bind=127.0.0.1:{port}",
                f"--workers={WORKERS}",
                "--worker-class=gthread",
                f"--threads={THREADS}",
                "--keep-alive=30",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        wait_for(base + "/healthz")
        creds = {"authKeyId": fixture["authKeyId"], "authKey": fixture["authKey"]}
        session = post_json(base + "/v1/auth", creds)
        keys_path = f"/v1/operators/{fixture['operatorId']}/auth_keys"
        api_headers = {"X-Soracom-API-Key": session["apiKey"], "X-Soracom-Token": session["token"]}
        results = measure(
            [
                ("GET /healthz (floor)", base + "/healthz", lua_script("GET", None, {})),
                (
                    "POST /v1/auth (AuthKey)",
                    base + "/v1/auth",
                    lua_script("POST", json.dumps(creds), {"Content-Type": "application/json"}),
                ),
                ("GET auth_keys (token)", base + keys_path, lua_script("GET", None, api_headers)),
            ]
        )
        print(
            f"Latchkey bench: gunicorn {WORKERS} gthread workers x {THREADS} threads, "
            f"PostgreSQL, production settings, CONN_MAX_AGE=600; wrk -t1 -c{CONNECTIONS}; "
            f"{ROUNDS} interleaved rounds of {SECONDS} s per endpoint after {WARMUP} s "
            f"warm-up; {os.cpu_count()} CPUs shared with the load generator"
        )
        print(
            f"{'endpoint':<26}{'req/s':>7}{'(min-max)':>12}{'p50 ms':>8}{'p99 ms':>8}"
            f"{'ratio':>7}{'(min-max)':>12}{'errors':>7}"
        )
        for r in results:
            spread = f"{r['spread'][0]:.0f}-{r['spread'][1]:.0f}"
            ratios = f"{r['ratios'][0]:.2f}-{r['ratios'][1]:.2f}"
            print(
                f"{r['name']:<26}{r['rps']:>7.0f}{spread:>12}{r['p50']:>8.2f}{r['p99']:>8.2f}"
                f"{r['ratio']:>7.2f}{ratios:>12}{r['errors']:>7}"
            )
        print(
            "(req/s, p50, p99: the median round; ratio: the median over rounds of req/s "
            "divided by the floor's req/s in the same round)"
        )
        best_floor = results[0]["spread"][1]
        print(
            "best rounds (least outside load): "
            + ", ".join(
                f"{r['name'].split(' (')[0]} {r['spread'][1] / best_floor:.2f}" for r in results[1:]
            )
            + " of the best floor round"
        )
        get_ratio, auth_ratio = results[2]["ratio"], results[1]["ratio"]
        print(
            f"targets: authenticated GET >= 0.50 of the floor: {get_ratio:.2f} "
            f"({'met' if get_ratio >= 0.5 else 'MISSED'}); /auth >= 0.30: {auth_ratio:.2f} "
            f"({'met' if auth_ratio >= 0.3 else 'MISSED'})"
        )
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server = None
        print("\nIn-process cost (Django test client, no HTTP server) and profiles:")
        profiled = subprocess.run(
            [
                PYTHON,
                "-c",
                PROFILE,
                keys_path,
                session["apiKey"],
                session["token"],
                json.dumps(creds),
                str(PROFILE_CALLS),
            ],
            cwd=ROOT,
            env={**env, "ALLOWED_HOSTS": "testserver"},
            check=True,
            capture_output=True,
            text=True,
        )
        print(profiled.stdout)
        failed = any(r["errors"] for r in results)
        return 1 if failed else 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
