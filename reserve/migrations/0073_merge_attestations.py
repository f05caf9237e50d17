"""Joins the statement evidence and period attestations (issue 16) to the freeze history (issue 13)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0072_merge_freeze_history"), ("reserve", "0043_period_attestation")]
    operations = []
