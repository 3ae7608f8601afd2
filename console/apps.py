from django.apps import AppConfig

from console import logfilters


class ConsoleConfig(AppConfig):
    name = "console"

    def ready(self) -> None:
        # No secret in any log line, whoever logs it (console/logfilters.py).
        logfilters.install()
