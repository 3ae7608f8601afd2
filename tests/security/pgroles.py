"""PostgreSQL roles for the audit pruning tests: the pruning role, and throwaway login roles."""

import secrets

from security import audit

# Another test run may create the (cluster-wide) role at the same moment.
_CREATE_PRUNE_ROLE = f"""
DO $$ BEGIN
  CREATE ROLE {audit.PRUNE_ROLE} NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$
"""


def ensure_prune_role(cursor) -> None:
    """Create the pruning role if the cluster lacks it, and grant it what prune_audit needs."""
    cursor.execute(_CREATE_PRUNE_ROLE)
    for statement in audit.prune_role_sql()[1:]:  # the grants, as docs/audit.md gives them
        cursor.execute(statement)


def create_login_role(cursor, prefix: str, *, member_of: str = "") -> str:
    """Create a non-superuser login role with the application's table grants; return its name."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    cursor.execute(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB")
    cursor.execute(f"GRANT USAGE ON SCHEMA public TO {name}")
    cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}")
    cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}")
    if member_of:
        cursor.execute(f"GRANT {member_of} TO {name}")
    return name


def drop_login_role(cursor, name: str) -> None:
    cursor.execute(f"DROP OWNED BY {name}")
    cursor.execute(f"DROP ROLE {name}")
