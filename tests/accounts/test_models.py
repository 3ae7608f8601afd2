import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError

from accounts.models import Operator, Principal


def test_it_gives_operators_op_and_ten_digits(db):
    assert re.fullmatch(r"OP\d{10}", Operator.create().id)


def test_it_hashes_passwords_and_keeps_none_in_clear(root):
    assert "root-Password-1234" not in root.password
    assert root.check_password("root-Password-1234")


def test_it_creates_sam_users_without_a_password(robot):
    assert robot.has_password is False


def test_it_refuses_two_sam_users_of_one_name_in_an_operator(alice):
    with pytest.raises(IntegrityError):
        Principal.objects.create_sam_user(alice.operator, "alice")


def test_it_allows_the_same_sam_user_name_in_another_operator(alice):
    other = Principal.objects.create_sam_user(Operator.create(), "alice")
    assert other.pk != alice.pk


@pytest.mark.parametrize("name", ["", "-dash-first", "a" * 101, "spa ce", "sl/ash", "ünï"])
def test_it_refuses_invalid_sam_user_names(operator, name):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        Principal.objects.create_sam_user(operator, name)


def test_it_uses_argon2_first_in_production():
    from console import settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


class TestCreateOperator:
    def _run(self, monkeypatch, password: str, email: str = "boss@example.com") -> str:
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        out = io.StringIO()
        call_command("createoperator", "--email", email, "--password-stdin", stdout=out)
        return out.getvalue()

    def test_it_prints_the_operator_id_on_the_last_line(self, db, monkeypatch):
        last = self._run(monkeypatch, "a-Long-Enough-pass-1").strip().splitlines()[-1]
        assert Operator.objects.filter(pk=last).exists()
        assert Principal.objects.get(operator_id=last).is_root

    def test_it_refuses_a_weak_password(self, db, monkeypatch):
        with pytest.raises(CommandError):
            self._run(monkeypatch, "short")
        assert not Operator.objects.exists()

    def test_it_refuses_a_second_operator_with_the_same_email(self, db, monkeypatch):
        self._run(monkeypatch, "a-Long-Enough-pass-1")
        with pytest.raises(CommandError):
            self._run(monkeypatch, "a-Long-Enough-pass-1", email="BOSS@example.com")
        assert Operator.objects.count() == 1


def test_it_tells_how_to_create_the_first_operator(db):
    out = io.StringIO()
    call_command("firstrun", stdout=out)
    assert "DEBUG=true .venv/bin/python manage.py createoperator" in out.getvalue()


def test_it_says_nothing_once_an_operator_exists(operator):
    out = io.StringIO()
    call_command("firstrun", stdout=out)
    assert out.getvalue() == ""
