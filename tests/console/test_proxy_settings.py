"""Proxy settings fail loudly: a proxy count without the networks it connects from would
trust a header that any client can write."""

import pytest

from tests.console.test_settings import _manage, _production_env


def test_it_refuses_a_proxy_count_without_proxy_networks():
    result = _manage(_production_env(LATCHKEY_TRUSTED_PROXIES="1"), "check")
    assert result.returncode != 0
    assert "LATCHKEY_TRUSTED_PROXY_NETWORKS" in result.stderr


def test_it_refuses_proxy_networks_without_a_proxy_count():
    result = _manage(_production_env(LATCHKEY_TRUSTED_PROXY_NETWORKS="127.0.0.1/32"), "check")
    assert result.returncode != 0
    assert "LATCHKEY_TRUSTED_PROXIES" in result.stderr


@pytest.mark.parametrize("networks", ["0.0.0.0/0", "10.0.0.1/8", "proxy.internal"])
def test_it_refuses_a_proxy_network_that_trusts_too_much_or_is_not_one(networks):
    env = _production_env(LATCHKEY_TRUSTED_PROXIES="1", LATCHKEY_TRUSTED_PROXY_NETWORKS=networks)
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "LATCHKEY_TRUSTED_PROXY_NETWORKS" in result.stderr


def test_it_passes_check_deploy_behind_a_loopback_proxy():
    env = _production_env(
        LATCHKEY_TRUSTED_PROXIES="1",
        LATCHKEY_TRUSTED_PROXY_NETWORKS="127.0.0.1/32,::1/128,unix",
        BEHIND_TLS_PROXY="true",
    )
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


def test_it_refuses_a_tls_proxy_without_proxy_networks():
    result = _manage(_production_env(BEHIND_TLS_PROXY="true"), "check")
    assert result.returncode != 0
    assert "BEHIND_TLS_PROXY" in result.stderr
