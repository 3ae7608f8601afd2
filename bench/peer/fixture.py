"""Migrate the peers' database and print a DRF token and an API key as JSON (one line)."""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework_api_key.models import APIKey  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)
user = User.objects.create_user("bench", "bench@example.com", None)
token = Token.objects.create(user=user)
_, api_key = APIKey.objects.create_key(name="bench")
print(json.dumps({"token": token.key, "apiKey": api_key}))
