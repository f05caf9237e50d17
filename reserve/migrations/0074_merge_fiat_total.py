"""Joins the fiat totals (issue 15) to the merged migrations, written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0073_merge_attestations"), ("reserve", "0031_fiat_total")]
    operations = []
