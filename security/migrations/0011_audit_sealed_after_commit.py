from django.db import migrations, models

# Audit entries are written freely and sealed after commit (security/audit.py, "Writing and
# sealing"): `seq` is NULL until the sealer numbers the entry, a partial index lists the
# unsealed ones, and the append-only trigger lets exactly one UPDATE through per entry:
# from unsealed to sealed, changing only the seal columns (seq, prev_hash, entry_hash,
# key_fp). Every other UPDATE, and every DELETE not run as the pruning role, is refused.
PG_GUARD = ["""
CREATE OR REPLACE FUNCTION security_auditentry_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF current_user = 'latchkey_audit_pruner' THEN
      RETURN OLD;
    END IF;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF OLD.seq IS NULL AND NEW.seq IS NOT NULL THEN
      IF (NEW.id, NEW.at, NEW.operator_id, NEW.actor_kind, NEW.actor, NEW.action, NEW.target,
          NEW.outcome, NEW.source_ip, NEW.user_agent, NEW.request_id, NEW.request_path,
          NEW.details, NEW.user_name, NEW.auth_key_id, NEW.chain)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.at, OLD.operator_id, OLD.actor_kind, OLD.actor, OLD.action, OLD.target,
          OLD.outcome, OLD.source_ip, OLD.user_agent, OLD.request_id, OLD.request_path,
          OLD.details, OLD.user_name, OLD.auth_key_id, OLD.chain) THEN
        RETURN NEW;
      END IF;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only (% refused; only the latchkey_audit_pruner role prunes)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""]
PG_PREVIOUS = ["""
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
        ('security', '0010_audit_failure_windows'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditentry',
            name='seq',
            field=models.PositiveBigIntegerField(blank=True, default=0, null=True),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(condition=models.Q(('seq__isnull', True)), fields=['chain', 'id'], name='audit_unsealed'),
        ),
        migrations.RenameField(
            model_name='auditfailurewindow',
            old_name='first_seq',
            new_name='first_entry',
        ),
        migrations.RunPython(guard, previous),
    ]
