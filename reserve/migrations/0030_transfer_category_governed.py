"""A transfer's category is a term of the governed vocabulary (policy.Category) in force, checked by
the database (reserve/sql/0030_transfer_category_governed.sql) instead of a closed CHECK list."""

from pathlib import Path

from django.db import migrations, models

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [
        ("policy", "0005_categories"),
        ("reserve", "0017_import_approval_role"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="transfer", name="reserve_transfer_category_valid"),
        migrations.AlterField(model_name="transfer", name="category", field=models.CharField(max_length=32)),
        migrations.RunSQL(
            sql=(SQL_DIR / "0030_transfer_category_governed.sql").read_text(),
            reverse_sql="DROP TRIGGER IF EXISTS reserve_transfer_category_governed ON reserve_transfer;"
            "DROP FUNCTION IF EXISTS reserve_transfer_category_in_force;",
        ),
    ]
