from django.apps import AppConfig

# mail connects its request receivers and mailchecks registers the deploy checks on import.
from console import logfilters, mail, mailchecks  # noqa: F401


class ConsoleConfig(AppConfig):
    name = "console"

    def ready(self) -> None:
        # No secret in any log line, whoever logs it (console/logfilters.py).
        logfilters.install()
