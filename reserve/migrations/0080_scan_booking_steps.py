"""The scan cursor keeps how far its block's bookings have committed (booking in steps, issue 12);
open discrepancies are found by txid."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reserve", "0077_merge_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="scancursor",
            name="booked_units",
            field=models.PositiveIntegerField(
                db_default=0, default=0, help_text="Bookings of that block committed so far, in the block's order"
            ),
        ),
        migrations.AddField(
            model_name="scancursor",
            name="booking_block_hash",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="The cursor's block while its bookings commit",
                max_length=64,
            ),
        ),
        migrations.AddIndex(
            model_name="discrepancy",
            index=models.Index(
                condition=models.Q(("status", "open")), fields=["wallet", "txid"], name="reserve_discrepancy_open_txid"
            ),
        ),
        migrations.AddConstraint(
            model_name="scancursor",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("booked_units", 0), ("booking_block_hash", "")),
                    ("booking_block_hash", models.F("block_hash")),
                    _connector="OR",
                ),
                name="reserve_cursor_booking_at_cursor",
            ),
        ),
    ]
