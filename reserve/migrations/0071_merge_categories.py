"""Joins the governed categories (issue 15) to the signing and proofs migrations, written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0070_merge_signing_proofs"), ("reserve", "0030_transfer_category_governed")]
    operations = []
