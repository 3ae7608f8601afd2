from django.db import migrations

# The append-only guard no longer yields to a session setting (any connection could set
# latchkey.audit_delete). A DELETE passes only when it runs as the pruning role
# (security/audit.py PRUNE_ROLE), which the application's role must not be a member of;
# prune_audit connects as a member and switches to it. UPDATE stays refused always.
# Nested IFs: SQL does not promise to evaluate AND left to right.
PG_GUARD = ["""
CREATE OR REPLACE FUNCTION security_auditentry_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF current_user = 'latchkey_audit_pruner' THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only (% refused; only the latchkey_audit_pruner role prunes)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""]
PG_PREVIOUS = ["""
CREATE OR REPLACE FUNCTION security_auditentry_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('latchkey.audit_delete', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""]


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_GUARD:
            schema_editor.execute(statement, params=None)


def previous(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_PREVIOUS:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('security', '0008_audit_key_fingerprint'),
    ]

    operations = [
        migrations.RunPython(guard, previous),
    ]
