from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_authkey_max_lifetime"),
    ]

    operations = [
        migrations.AddField(
            model_name="apisession",
            name="scope",
            field=models.CharField(blank=True, default="", max_length=1000),
        ),
    ]
