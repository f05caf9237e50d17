"""Joins the imported BIP-329 labels (issue 17) to the merged migrations, written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0076_merge_pledges_runs"), ("reserve", "0062_wallet_label")]
    operations = []
