"""Joins the category-direction check (issue 15) to the merged migrations, written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reserve", "0078_merge_steps_lots"), ("reserve", "0095_transfer_category_direction")]
    operations = []
