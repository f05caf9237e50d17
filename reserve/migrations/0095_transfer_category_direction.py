"""A transfer's category must allow its direction (an inflow source never on an outbound transfer,
an outflow reason never on an inbound one), checked by the database as by the drafts
(reserve/sql/0095_transfer_category_direction.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("reserve", "0080_scan_booking_steps")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0095_transfer_category_direction.sql").read_text(),
            reverse_sql="DROP TRIGGER IF EXISTS reserve_transfer_category_governed ON reserve_transfer;"
            + (SQL_DIR / "0030_transfer_category_governed.sql").read_text(),
        ),
    ]
