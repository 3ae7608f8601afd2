"""Sessions remember how they were opened and under which epochs (docs/sessions.md)."""

from django.db import migrations, models


def opened_by_from_key(apps, schema_editor):
    # Existing sessions: an AuthKey ID means an AuthKey exchange, none means a password.
    # Every epoch starts at 0, so that live sessions stay live across the upgrade.
    ApiSession = apps.get_model("accounts", "ApiSession")
    ApiSession.objects.exclude(auth_key_id="").update(opened_by="authkey")
    ApiSession.objects.filter(auth_key_id="").update(opened_by="password", password_epoch=0)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_support_access"),
    ]

    operations = [
        migrations.AddField(
            model_name="principal",
            name="session_epoch",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="principal",
            name="password_epoch",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="apisession",
            name="opened_by",
            field=models.CharField(
                choices=[("password", "Password"), ("authkey", "AuthKey"), ("switch_user", "Switch user")],
                default="password",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="apisession",
            name="session_epoch",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="apisession",
            name="password_epoch",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(opened_by_from_key, migrations.RunPython.noop),
    ]
