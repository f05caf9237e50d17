"""Lots bound to the postings that made and took them: never more than the posting moved, a moved
lot keeps its origin's acquisition (reserve/sql/0105_lot_posting_bound.sql)."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "0105_lot_posting_bound.sql").read_text()
DROP = (
    "DROP TRIGGER IF EXISTS reserve_lot_taken_check ON reserve_lotconsumption; "
    "DROP TRIGGER IF EXISTS reserve_lot_made_check ON reserve_lot; "
    "DROP FUNCTION IF EXISTS reserve_lot_taken_check(); DROP FUNCTION IF EXISTS reserve_lot_made_check(); "
    "DROP FUNCTION IF EXISTS reserve_lot_posting_sats(uuid, bigint);"
)


class Migration(migrations.Migration):
    dependencies = [("reserve", "0079_merge_category_direction")]

    operations = [migrations.RunSQL(sql=SQL, reverse_sql=DROP)]
