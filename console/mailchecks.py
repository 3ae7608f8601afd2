"""Deploy checks for mail: say plainly when password-reset codes and notifications go nowhere.

Production does not refuse to start without EMAIL_URL: sign-in, the API and AuthKeys do not
need mail, and an installation may choose to run without it. But then nobody can reset a
forgotten root password and no security notification reaches anyone, so
`manage.py check --deploy` warns until EMAIL_URL names a real mail server (or until the
installation says so explicitly with `dummymail://`, which still warns: it is a choice to
review, not a default to forget).
"""

from django.conf import global_settings, settings
from django.core.checks import Tags, Warning, register

_DISCARDS = "django.core.mail.backends.dummy.EmailBackend"
_PRINTS = {
    "django.core.mail.backends.console.EmailBackend": "to the process output",
    "django.core.mail.backends.filebased.EmailBackend": "to files on disk",
    "django.core.mail.backends.locmem.EmailBackend": "to memory",
}
_SMTP = "django.core.mail.backends.smtp.EmailBackend"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@register(Tags.security, deploy=True)
def check_mail(app_configs=None, **kwargs) -> list[Warning]:
    """Return warnings when mail is discarded, written where logs go, or sent unencrypted."""
    mailer = getattr(settings, "MAILERS", {}).get("default", {})
    backend = mailer.get("BACKEND", _SMTP)
    options = mailer.get("OPTIONS", {})
    problems = []
    if not getattr(settings, "LATCHKEY_EMAIL_URL_SET", True) or backend == _DISCARDS:
        problems.append(
            Warning(
                "No mail is sent: password-reset codes and security notifications are "
                "discarded, so a forgotten root password cannot be reset.",
                hint="Set EMAIL_URL (for example smtp+tls://user:pass@mail.example.com:587) "
                "and DEFAULT_FROM_EMAIL (README: Mail).",
                id="latchkey_mail.W001",
            )
        )
    elif backend in _PRINTS:
        problems.append(
            Warning(
                f"Mail is written {_PRINTS[backend]}, password-reset codes included: anyone "
                "who reads it can reset the root password.",
                hint="Set EMAIL_URL to a mail server (smtp+tls://...) in production.",
                id="latchkey_mail.W002",
            )
        )
    elif backend == _SMTP and not (options.get("use_tls") or options.get("use_ssl")):
        if options.get("host") not in _LOCAL_HOSTS:
            problems.append(
                Warning(
                    "Mail goes to a remote server without TLS: password-reset codes and "
                    "the SMTP password cross the network in clear.",
                    hint="Use smtp+tls:// (STARTTLS) or smtp+ssl:// in EMAIL_URL.",
                    id="latchkey_mail.W003",
                )
            )
    if backend != _DISCARDS and settings.DEFAULT_FROM_EMAIL == global_settings.DEFAULT_FROM_EMAIL:
        problems.append(
            Warning(
                "DEFAULT_FROM_EMAIL is Django's placeholder (webmaster@localhost): mail "
                "servers refuse or junk such mail.",
                hint="Set DEFAULT_FROM_EMAIL to an address of your domain.",
                id="latchkey_mail.W004",
            )
        )
    return problems
