"""Sign-in and exchange throttles at their production defaults, their state, equal work.

No test here overrides a throttle setting: the limits enforced are the ones production
reads, so that a changed default fails a test. The clock goes through `throttle._now`,
pinned 100 s into a 900 s window, so that no run straddles a window boundary.
"""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from accounts import signin, throttle
from accounts.models import ApiSession, Principal
from security import authkeys
from tests.conftest import ROOT_PASSWORD
from tests.console.test_settings import ROOT, _production_env

# The documented defaults (README: Sign-in throttling and Settings; docs/authkeys.md).
DEFAULTS = {
    "LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP": 10,
    "LATCHKEY_THROTTLE_PER_ACCOUNT": 50,
    "LATCHKEY_THROTTLE_PER_IP": 100,
    "LATCHKEY_THROTTLE_WINDOW": 900,
    "LATCHKEY_AUTHKEY_GENERATES_PER_HOUR": 20,
}
WINDOW = 900
WRONG = "not-the-Password-0"


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> list[datetime]:
    """Pin the throttles' clock 100 s into a window; tests move it through `clock[0]`."""
    start = int(datetime.now(UTC).timestamp()) // WINDOW * WINDOW + 100
    moment = [datetime.fromtimestamp(start, UTC)]
    monkeypatch.setattr(throttle, "_now", lambda: moment[0])
    return moment


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Count password hashes (the test hasher's encode)."""
    calls: list[str] = []
    encode = MD5PasswordHasher.encode

    def counting(self, password, salt):
        calls.append(password)
        return encode(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting)
    return calls


def root_sign_in(root, password: str, ip: str):
    return Client(REMOTE_ADDR=ip).post(
        "/v1/auth", {"email": root.email, "password": password}, content_type="application/json"
    )


def key_exchange(key_id: str, secret: str, ip: str):
    return Client(REMOTE_ADDR=ip).post(
        "/v1/auth", {"authKeyId": key_id, "authKey": secret}, content_type="application/json"
    )


def console_sign_in(client: Client, root, password: str):
    return client.post(
        "/login/", {"mode": "root", "root-email": root.email, "root-password": password}
    )


def assert_throttled(response) -> int:
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "LKY0429"
    wait = int(response["Retry-After"])
    assert 0 < wait <= WINDOW
    return wait


# --- the defaults as production reads them ----------------------------------------------


def test_it_reads_the_documented_defaults_in_production():
    names = json.dumps(sorted(DEFAULTS))
    script = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == DEFAULTS


def test_it_runs_these_tests_with_the_production_defaults():
    assert {name: getattr(settings, name) for name in DEFAULTS} == DEFAULTS


# --- enforcement at the defaults -----------------------------------------------------------


def test_it_lets_the_right_password_in_after_nine_failures_from_one_address(root):
    for _ in range(9):
        assert root_sign_in(root, WRONG, "192.0.2.1").status_code == 401
    assert root_sign_in(root, ROOT_PASSWORD, "192.0.2.1").status_code == 200


def test_it_throttles_one_address_at_ten_failures_for_one_account(root):
    for _ in range(10):
        assert root_sign_in(root, WRONG, "192.0.2.1").status_code == 401
    assert assert_throttled(root_sign_in(root, ROOT_PASSWORD, "192.0.2.1")) == WINDOW - 100
    assert root_sign_in(root, ROOT_PASSWORD, "192.0.2.2").status_code == 200


def test_it_opens_again_when_the_900_second_window_ends(root, clock):
    for _ in range(10):
        root_sign_in(root, WRONG, "192.0.2.1")
    clock[0] += timedelta(seconds=WINDOW - 101)
    assert assert_throttled(root_sign_in(root, ROOT_PASSWORD, "192.0.2.1")) == 1
    clock[0] += timedelta(seconds=1)
    assert root_sign_in(root, ROOT_PASSWORD, "192.0.2.1").status_code == 200


def _spread_failures(root, count: int) -> None:
    """Fail `count` times on root's account, at most nine per address."""
    for n in range(count):
        assert root_sign_in(root, WRONG, f"198.51.100.{n // 9}").status_code == 401


def test_it_lets_the_right_password_in_after_49_failures_on_one_account(root):
    _spread_failures(root, 49)
    assert root_sign_in(root, ROOT_PASSWORD, "203.0.113.1").status_code == 200


def test_it_throttles_one_account_at_50_failures_from_anywhere(root):
    _spread_failures(root, 50)
    assert_throttled(root_sign_in(root, ROOT_PASSWORD, "203.0.113.1"))


def test_it_throttles_one_address_at_100_failures_across_accounts(root):
    def spray(n: int):
        body = {"email": f"user{n}@example.com", "password": WRONG}
        client = Client(REMOTE_ADDR="192.0.2.9")
        return client.post("/v1/auth", body, content_type="application/json")

    for n in range(99):
        assert spray(n).status_code == 401
    assert root_sign_in(root, ROOT_PASSWORD, "192.0.2.9").status_code == 200
    assert spray(99).status_code == 401
    assert_throttled(root_sign_in(root, ROOT_PASSWORD, "192.0.2.9"))


def test_it_throttles_one_address_at_ten_failures_for_one_authkey(root):
    key, secret = authkeys.generate(None, root, root)
    for _ in range(10):
        assert key_exchange(key.key_id, authkeys.new_secret(), "192.0.2.1").status_code == 401
    assert_throttled(key_exchange(key.key_id, secret, "192.0.2.1"))
    assert key_exchange(key.key_id, secret, "192.0.2.2").status_code == 200


def test_it_refuses_wrong_secrets_for_one_authkey_at_50_failures_but_not_the_right_one(root):
    key, secret = authkeys.generate(None, root, root)
    for n in range(50):
        key_exchange(key.key_id, authkeys.new_secret(), f"198.51.100.{n // 9}")
    assert_throttled(key_exchange(key.key_id, authkeys.new_secret(), "203.0.113.1"))
    assert key_exchange(key.key_id, secret, "203.0.113.2").status_code == 200


def test_it_limits_authkey_generation_to_20_per_hour(root):
    for _ in range(20):
        key, _ = authkeys.generate(None, root, root)
        authkeys.revoke(None, root, key)
    with pytest.raises(authkeys.GenerateRateLimited):
        authkeys.generate(None, root, root)
    assert not authkeys.live_keys(root).exists()


# --- the buckets after a success -----------------------------------------------------------


def _password_buckets(root, ip: str) -> dict[str, throttle.Bucket]:
    per_ip, per_account_ip, per_account = signin._buckets(
        signin.account_key(email=root.email), ip, trusted_device=False
    )
    return {"ip": per_ip, "account+ip": per_account_ip, "account": per_account}


def _counts(buckets: dict[str, throttle.Bucket]) -> dict[str, int]:
    return {name: throttle.failures(bucket) for name, bucket in buckets.items()}


def test_it_clears_the_account_and_address_bucket_after_an_api_sign_in(root):
    buckets = _password_buckets(root, "192.0.2.1")
    for _ in range(3):
        root_sign_in(root, WRONG, "192.0.2.1")
    assert _counts(buckets) == {"ip": 3, "account+ip": 3, "account": 3}
    assert root_sign_in(root, ROOT_PASSWORD, "192.0.2.1").status_code == 200
    # The owner's success forgives its own typos here; it does not reset what strangers
    # spent on the address (spraying) or on the account (a distributed attack).
    assert _counts(buckets) == {"ip": 3, "account+ip": 0, "account": 3}


def test_it_clears_the_account_and_address_bucket_after_a_console_sign_in(root):
    client = Client(REMOTE_ADDR="192.0.2.1")
    buckets = _password_buckets(root, "192.0.2.1")
    for _ in range(3):
        assert console_sign_in(client, root, WRONG).status_code == 400
    assert console_sign_in(client, root, ROOT_PASSWORD).status_code == 302
    assert _counts(buckets) == {"ip": 3, "account+ip": 0, "account": 3}


def test_it_clears_the_key_and_address_bucket_after_an_exchange(root):
    key, secret = authkeys.generate(None, root, root)
    (per_ip, per_key_ip), per_key = authkeys._buckets(key.key_id, "192.0.2.1")
    buckets = {"ip": per_ip, "key+ip": per_key_ip, "key": per_key}
    for _ in range(3):
        key_exchange(key.key_id, authkeys.new_secret(), "192.0.2.1")
    assert _counts(buckets) == {"ip": 3, "key+ip": 3, "key": 3}
    assert key_exchange(key.key_id, secret, "192.0.2.1").status_code == 200
    assert _counts(buckets) == {"ip": 3, "key+ip": 0, "key": 3}


# --- the same work for an account that does not exist (AuthKeys: tests/security) ----------


@pytest.mark.parametrize(
    "body",
    [
        {"email": "nobody@example.com", "password": WRONG},
        {"operatorId": "OP0000000000", "userName": "nobody", "password": WRONG},
    ],
    ids=["unknown root", "unknown SAM user"],
)
def test_it_hashes_a_password_for_an_unknown_account_as_for_a_wrong_password(
    root, alice, hashes, body
):
    wrong = {"email": root.email, "password": WRONG}
    assert Client().post("/v1/auth", wrong, content_type="application/json").status_code == 401
    known = len(hashes)
    hashes.clear()
    assert Client().post("/v1/auth", body, content_type="application/json").status_code == 401
    assert known == len(hashes) == 1


def test_it_hashes_no_password_for_a_throttled_attempt(root, hashes):
    for _ in range(10):
        root_sign_in(root, WRONG, "192.0.2.1")
    hashes.clear()
    assert_throttled(root_sign_in(root, ROOT_PASSWORD, "192.0.2.1"))
    assert hashes == []


# --- root's password on the API under a distributed attack (docs/sessions.md) -------------


def _lock_root_out(root) -> None:
    """The review's probe: ten wrong guesses from each of six addresses."""
    for address in range(6):
        for _ in range(10):
            root_sign_in(root, WRONG, f"198.51.100.{address}")


def test_it_locks_api_password_sign_in_for_a_fresh_address_during_a_distributed_attack(
    root, hashes
):
    _lock_root_out(root)
    hashes.clear()
    assert_throttled(root_sign_in(root, ROOT_PASSWORD, "203.0.113.50"))
    assert hashes == []
    assert not ApiSession.objects.filter(principal=root).exists()


def test_it_opens_api_password_sign_in_when_the_attack_window_ends(root, clock):
    _lock_root_out(root)
    clock[0] += timedelta(seconds=WINDOW - 100)
    assert root_sign_in(root, ROOT_PASSWORD, "203.0.113.50").status_code == 200


@pytest.mark.parametrize("ip", ["203.0.113.50", "198.51.100.0"], ids=["fresh", "attacking"])
def test_it_keeps_authkey_exchanges_working_during_the_attack(root, alice, ip):
    keys = [authkeys.generate(None, root, holder) for holder in (root, alice)]
    _lock_root_out(root)
    for key, secret in keys:
        response = key_exchange(key.key_id, secret, ip)
        assert response.status_code == 200, response.content
        assert ApiSession.objects.get(api_key=response.json()["apiKey"]).opened_by == "authkey"


def test_it_keeps_the_console_open_from_a_known_device_during_the_attack(root):
    owner = Client(REMOTE_ADDR="192.0.2.7")
    assert console_sign_in(owner, root, ROOT_PASSWORD).status_code == 302
    owner.post("/logout/")
    _lock_root_out(root)
    assert console_sign_in(Client(REMOTE_ADDR="192.0.2.8"), root, ROOT_PASSWORD).status_code == 429
    assert console_sign_in(owner, root, ROOT_PASSWORD).status_code == 302


def test_it_throttles_the_current_password_check_of_a_root_password_change(root):
    key, secret = authkeys.generate(None, root, root)
    session = key_exchange(key.key_id, secret, "203.0.113.50").json()
    _lock_root_out(root)
    response = Client(REMOTE_ADDR="203.0.113.50").post(
        f"/v1/operators/{root.operator_id}/password",
        {"currentPassword": ROOT_PASSWORD, "newPassword": "a-Brand-new-passw0rd"},
        content_type="application/json",
        HTTP_X_SORACOM_API_KEY=session["apiKey"],
        HTTP_X_SORACOM_TOKEN=session["token"],
    )
    assert_throttled(response)
    assert Principal.objects.get(pk=root.pk).check_password(ROOT_PASSWORD)
