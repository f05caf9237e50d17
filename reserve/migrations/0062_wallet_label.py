"""Operators' BIP-329 labels for a wallet's own keys, addresses, transactions and outputs; operators import them."""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models


def grant(apps, schema_editor):
    # Permissions are normally created after migrate; the group needs this one now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="operator")
    group.permissions.add(Permission.objects.get(content_type__app_label="reserve", codename="import_labels"))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="reserve", codename="import_labels").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reserve", "0075_merge_wallet_page"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WalletLabel",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "type",
                    models.CharField(
                        choices=[
                            ("xpub", "extended public key"),
                            ("addr", "address"),
                            ("tx", "transaction"),
                            ("output", "output"),
                        ],
                        max_length=8,
                    ),
                ),
                ("ref", models.CharField(max_length=200)),
                ("label", models.CharField(max_length=255)),
                ("updated_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "updated_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "wallet",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="labels", to="reserve.wallet"
                    ),
                ),
            ],
            options={
                "ordering": ["wallet_id", "type", "ref"],
                "permissions": [("import_labels", "Can import BIP-329 labels for a wallet")],
                "constraints": [
                    models.UniqueConstraint(fields=("wallet", "type", "ref"), name="reserve_wallet_label_one_per_ref"),
                    models.CheckConstraint(
                        condition=models.Q(("type__in", ["xpub", "addr", "tx", "output"])),
                        name="reserve_wallet_label_type_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("ref", ""), _negated=True), models.Q(("label", ""), _negated=True)
                        ),
                        name="reserve_wallet_label_present",
                    ),
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
