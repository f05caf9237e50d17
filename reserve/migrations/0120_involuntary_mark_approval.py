"""Marking an inflow involuntary takes two people: the marks table, its guard, and the transfer's
category trigger replaced to allow only an approved mark (reserve/sql/0120_involuntary_mark_approval.sql)."""

from pathlib import Path

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models

SQL = (Path(__file__).resolve().parent.parent / "sql" / "0120_involuntary_mark_approval.sql").read_text()
PREVIOUS = (Path(__file__).resolve().parent.parent / "sql" / "0116_transfer_category_permanent.sql").read_text()
# Undo: 0116's function back (its CREATE TRIGGER is dropped first so the file replays), the guard gone.
REVERSE = (
    "DROP TRIGGER IF EXISTS reserve_involuntary_mark_guard ON reserve_involuntarymark; "
    "DROP FUNCTION IF EXISTS reserve_involuntary_mark_guard(); "
    "DROP TRIGGER IF EXISTS reserve_transfer_category_permanent ON reserve_transfer; "
    + PREVIOUS
    + "; DROP FUNCTION IF EXISTS reserve_involuntary_markable(reserve_transfer, text);"
)


class Migration(migrations.Migration):
    dependencies = [
        ("reserve", "0116_transfer_category_permanent"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="InvoluntaryMark",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("category", models.CharField(max_length=64)),
                ("reason", models.TextField()),
                (
                    "status",
                    models.CharField(
                        choices=[("proposed", "Proposed"), ("approved", "Approved"), ("rejected", "Rejected")],
                        default="proposed",
                        max_length=16,
                    ),
                ),
                ("proposed_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("comment", models.TextField(blank=True)),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "proposed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "transfer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="involuntary_marks",
                        to="reserve.transfer",
                    ),
                ),
            ],
            options={
                "ordering": ["transfer_id", "id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["proposed", "approved", "rejected"])),
                        name="reserve_involuntarymark_status_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("reason", ""), _negated=True), name="reserve_involuntarymark_reason_present"
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("status", "proposed")),
                        fields=("transfer",),
                        name="reserve_involuntarymark_one_open",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("status", "approved")),
                        fields=("transfer",),
                        name="reserve_involuntarymark_one_approved",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("decided_at__isnull", True), ("decided_by__isnull", True), ("status", "proposed")
                            ),
                            models.Q(
                                models.Q(("status", "proposed"), _negated=True),
                                ("decided_at__isnull", False),
                                ("decided_by__isnull", False),
                                models.Q(("decided_by", models.F("proposed_by")), _negated=True),
                            ),
                            _connector="OR",
                        ),
                        name="reserve_involuntarymark_decided_by_another",
                    ),
                ],
            },
        ),
        migrations.RunSQL(sql=SQL, reverse_sql=REVERSE),
    ]
