"""Operators may ask for a wallet's reconciliation now (the wallet page's "Reconcile now")."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    # Permissions are normally created after migrate; the group needs this one now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="operator")
    group.permissions.add(Permission.objects.get(content_type__app_label="reserve", codename="request_reconciliation"))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="reserve", codename="request_reconciliation").delete()


class Migration(migrations.Migration):
    dependencies = [("reserve", "0060_walletutxo_coinbase")]

    operations = [
        migrations.AlterModelOptions(
            name="reconciliationrun",
            options={
                "ordering": ["-started_at", "-id"],
                "permissions": [("request_reconciliation", "Can ask for a wallet's reconciliation now")],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
