"""Joins the pledges (issue 15) and the kept reconciliation runs (issue 17), written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0035_pledge"), ("reserve", "0066_reconciliation_run_kept")]
    operations = []
