"""Joins the signing (issue 13) and proofs-of-reserves (issue 16) migrations, written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0021_signing_roles"), ("reserve", "0041_wallet_published")]
    operations = []
