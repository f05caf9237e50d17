"""Create (once) the demo superuser that `make run` prints, for a first look at the admin."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo superuser if it does not exist and print its credentials."

    def handle(self, *args: object, **options: object) -> None:
        username = os.environ.get("DEMO_ADMIN_USERNAME", "admin")
        password = os.environ.get("DEMO_ADMIN_PASSWORD", "reserve-demo-admin")
        user_model = get_user_model()
        if not user_model.objects.filter(username=username).exists():
            user_model.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"created demo superuser {username!r}")
        self.stdout.write(f"demo superuser: username={username} password={password}")
