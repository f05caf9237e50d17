"""Joins the coinbase flag and the reconcile-now permission (issue 17) to the merged migrations."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0074_merge_fiat_total"), ("reserve", "0061_request_reconciliation_role")]
    operations = []
