from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('security', '0014_mfa'),
    ]

    operations = [
        migrations.AddField(
            model_name='authkey',
            name='allowed_networks',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.AddField(
            model_name='authkey',
            name='secret_lookup',
            field=models.CharField(blank=True, db_index=True, default='', max_length=64),
        ),
    ]
