"""Joins booking in steps (issue 12) and lots (issue 15), written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0080_scan_booking_steps"), ("reserve", "0085_lots")]
    operations = []
