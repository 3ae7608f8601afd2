"""A resolver for destination-URL tests: names answer from a table, never from the network."""

import pytest

from security import destinations

PUBLIC_ADDRESS = "93.184.215.14"


class FakeDns:
    """Answer every name with PUBLIC_ADDRESS unless `answers` says otherwise; count look-ups."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.looked_up: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.looked_up.append(host)
        answer = self.answers.get(host, [PUBLIC_ADDRESS])
        if not answer:
            raise OSError("Name or service not known")
        return answer


@pytest.fixture
def fake_dns(monkeypatch) -> FakeDns:
    dns = FakeDns()
    monkeypatch.setattr(destinations, "_resolve", dns.resolve)
    return dns
