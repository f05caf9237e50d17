"""Period attestations are kept as made, append-only; operators make them, every role reads them."""

from pathlib import Path

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
DROP = "DROP TRIGGER IF EXISTS reserve_periodattestation_append_only ON reserve_periodattestation;"


def grant(apps, schema_editor):
    # Permissions are normally created after migrate; the operator group needs this one now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="operator")
    group.permissions.add(Permission.objects.get(content_type__app_label="reserve", codename="add_periodattestation"))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="reserve", codename="add_periodattestation").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reserve", "0042_proof_evidence"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PeriodAttestation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("network", models.CharField(max_length=16)),
                ("from_height", models.PositiveIntegerField()),
                ("to_height", models.PositiveIntegerField()),
                ("verdict", models.CharField(max_length=32)),
                ("net_accumulation_sats", models.BigIntegerField()),
                (
                    "statement",
                    models.JSONField(help_text="The attestation the service signed; scripts/verify_statement.py --rpc"),
                ),
                ("statement_signature", models.CharField(help_text="Ed25519, hex", max_length=128)),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("from_height__lte", models.F("to_height"))),
                        name="reserve_attestation_period",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("statement_signature__regex", "^[0-9a-f]{128}$")),
                        name="reserve_attestation_signed",
                    ),
                ],
            },
        ),
        migrations.RunSQL(sql=(SQL_DIR / "0043_period_attestation.sql").read_text(), reverse_sql=DROP),
        migrations.RunPython(grant, revoke),
    ]
