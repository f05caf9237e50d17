"""A transfer's category is permanent but for an inflow nobody proposed marked involuntary
(reserve/sql/0116_transfer_category_permanent.sql)."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "0116_transfer_category_permanent.sql").read_text()
DROP = (
    "DROP TRIGGER IF EXISTS reserve_transfer_category_permanent ON reserve_transfer; "
    "DROP FUNCTION IF EXISTS reserve_transfer_category_permanent();"
)


class Migration(migrations.Migration):
    dependencies = [("reserve", "0105_lot_posting_bound")]

    operations = [migrations.RunSQL(sql=SQL, reverse_sql=DROP)]
