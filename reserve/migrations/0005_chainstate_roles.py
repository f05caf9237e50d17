"""Every role sees the chain state and reconciliation records; operators also resolve discrepancies."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CHAIN_MODELS = ("chainblock", "walletutxo", "scancursor", "reconciliationrun", "discrepancy", "outboxmessage")
ROLES = ("operator", "approver", "policy_admin", "auditor")


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.filter(
        content_type__app_label="reserve", codename__in=[f"view_{model}" for model in CHAIN_MODELS]
    )
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*view)
    resolve = Permission.objects.filter(
        content_type__app_label="reserve", codename__in=["resolve_discrepancy", "change_discrepancy"]
    )
    Group.objects.get(name="operator").permissions.add(*resolve)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    permissions = Permission.objects.filter(content_type__app_label="reserve", content_type__model__in=CHAIN_MODELS)
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("reserve", "0004_chainstate"), ("reserve", "0003_roles")]

    operations = [migrations.RunPython(grant, revoke)]
