"""Mail settings: EMAIL_URL becomes Django's MAILERS; `check --deploy` warns when mail is unsafe."""

import json

import pytest

from tests.console.test_settings import _manage, _production_env

PRINT_MAILER = (
    "from django.conf import settings; import json; "
    "print(json.dumps([settings.MAILERS, settings.DEFAULT_FROM_EMAIL]))"
)


def _mailer(env: dict) -> tuple[dict, str]:
    result = _manage(env, "shell", "-c", PRINT_MAILER)
    assert result.returncode == 0, result.stderr
    mailers, sender = json.loads(result.stdout.strip().splitlines()[-1])
    return mailers["default"], sender


def test_it_turns_the_email_url_into_the_default_mailer():
    mailer, sender = _mailer(_production_env())
    assert mailer == {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": "mail.example.com",
            "port": 587,
            "username": "latchkey",
            "password": "mail-Password-1",
            "use_tls": True,
            "timeout": 10,
        },
    }
    assert sender == "latchkey@example.com"


def test_it_prints_mail_to_the_terminal_in_development():
    env = _production_env(DEBUG="true")
    del env["EMAIL_URL"]
    mailer, _ = _mailer(env)
    assert mailer == {"BACKEND": "django.core.mail.backends.console.EmailBackend"}


def test_it_discards_mail_in_production_without_an_email_url():
    env = _production_env()
    del env["EMAIL_URL"]
    mailer, _ = _mailer(env)
    assert mailer == {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}


def test_it_passes_check_deploy_with_a_configured_mail_server():
    result = _manage(_production_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "latchkey_mail" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "overrides, warning",
    [
        ({"EMAIL_URL": None}, "latchkey_mail.W001"),
        ({"EMAIL_URL": "dummymail://"}, "latchkey_mail.W001"),
        ({"EMAIL_URL": "consolemail://"}, "latchkey_mail.W002"),
        ({"EMAIL_URL": "smtp://mail.example.com:25"}, "latchkey_mail.W003"),
        ({"DEFAULT_FROM_EMAIL": None}, "latchkey_mail.W004"),
    ],
    ids=["no url", "dummy", "console", "no tls", "no sender"],
)
def test_it_warns_in_check_deploy_when_mail_goes_nowhere_safe(overrides, warning):
    env = _production_env()
    for name, value in overrides.items():
        if value is None:
            del env[name]
        else:
            env[name] = value
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert warning in result.stderr
    assert "mail-Password-1" not in result.stdout + result.stderr


def test_it_accepts_plain_smtp_to_a_relay_on_the_same_host():
    env = _production_env(EMAIL_URL="smtp://localhost:25")
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


def test_it_refuses_to_start_with_an_unknown_mail_scheme():
    result = _manage(_production_env(EMAIL_URL="carrier-pigeon://x"), "check")
    assert result.returncode != 0
    assert "Invalid email schema" in result.stderr
