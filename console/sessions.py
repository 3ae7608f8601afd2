"""The console's session store: Django's database sessions, keyed by what Django issues.

A session key comes from the browser's cookie, so anything can arrive there. Django's store
only checks its length, and looks up whatever it is given: on PostgreSQL a key holding NUL
fails the query (a 500 on every page). Django issues keys of 32 lowercase letters and
digits; a cookie holding anything else is no session, as an unknown key is.
"""

import re

from django.contrib.sessions.backends import db

_ISSUED_KEY = re.compile(r"[a-z0-9]{8,64}\Z")


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        return isinstance(key, str) and _ISSUED_KEY.match(key) is not None
