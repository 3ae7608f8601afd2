"""Single use under real concurrency (PostgreSQL, real threads, transaction=True): one TOTP
code sent by many sign-ins at once, and one backup code spent at once, each succeed once."""

import pyotp
import pytest
from django.test import Client

from security import mfa
from security.models import BackupCode
from tests.api.test_mfa_api import T0, secret_of
from tests.conftest import ROOT_PASSWORD
from tests.security.test_authkeys_concurrency import needs_postgres, run_together

THREADS = 12


@pytest.fixture
def clock(monkeypatch):
    moment = {"t": T0}
    monkeypatch.setattr(mfa, "clock", lambda: moment["t"])
    return moment


def _enrol(root, clock) -> tuple[pyotp.TOTP, list[str]]:
    uri = mfa.enable(None, root, root, "Operator:enableMFA")
    totp = pyotp.TOTP(secret_of(uri))
    codes = mfa.verify(None, root, root, totp.at(clock["t"]), "Operator:verifyMFA")
    clock["t"] += 30
    return totp, codes


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_accepts_one_code_once_when_sent_at_once(root, clock, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 100
    totp, _ = _enrol(root, clock)
    code = totp.at(clock["t"])
    body = {"email": root.email, "password": ROOT_PASSWORD, "mfaOTPCode": code}

    def sign_in(_i: int) -> int:
        return Client().post("/v1/auth", body, content_type="application/json").status_code

    results = run_together(THREADS, sign_in)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == [200] + [401] * (THREADS - 1)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_spends_one_backup_code_once_when_used_at_once(root, clock):
    _, codes = _enrol(root, clock)

    def spend(_i: int) -> bool:
        return mfa.use_backup_code(None, root, codes[0])

    results = run_together(THREADS, spend)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert results.count(True) == 1
    assert BackupCode.objects.filter(principal=root, used_at__isnull=False).count() == 1
