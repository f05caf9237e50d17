"""Joins the freeze history (issue 13) to the merged migrations, written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0071_merge_categories"), ("reserve", "0022_utxo_freeze_history")]
    operations = []
