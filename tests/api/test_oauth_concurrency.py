"""OAuth's token endpoint under real concurrency (PostgreSQL threads, as the repo marks them)."""

import pytest

from accounts.models import ApiSession
from security import authkeys
from tests.api.harness import call
from tests.api.oauth_client import basic, bearer, key_for, post, token
from tests.security.test_authkeys_concurrency import needs_postgres, run_together

pytestmark = [pytest.mark.postgres, needs_postgres, pytest.mark.django_db(transaction=True)]


def test_it_leaves_no_live_session_when_a_key_revoke_races_the_token_endpoint(root):
    for _ in range(6):
        key, secret = authkeys.generate(None, root, root)

        def race(i: int, key=key, secret=secret):
            if i == 0:
                return authkeys.revoke(None, root, key)
            return token(key.key_id, secret).status_code

        results = run_together(4, race)
        assert not [r for r in results if isinstance(r, Exception)], results
        assert set(results[1:]) <= {200, 401}
        live = ApiSession.objects.filter(auth_key_id=key.key_id, revoked_at__isnull=True)
        assert not live.exists()


def test_it_refuses_every_call_after_a_revocation_that_raced_them(root):
    gateway = key_for(root, root)
    access = token(*key_for(root, root)).json()["access_token"]
    auth_keys = f"/v1/operators/{root.operator_id}/auth_keys"

    def race(i: int):
        if i == 0:
            return post("/oauth/revoke", {"token": access}, headers=basic(*gateway)).status_code
        return call("GET", auth_keys, bearer(access)).status_code

    results = run_together(5, race)
    assert results[0] == 200, results
    assert set(results[1:]) <= {200, 401}, results
    assert call("GET", auth_keys, bearer(access)).status_code == 401
