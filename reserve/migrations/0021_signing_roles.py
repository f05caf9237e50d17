"""Operators freeze and unfreeze coins; every role may read the PSBTs, holds and uploads."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ("operator", "approver", "policy_admin", "auditor")
SIGNING_MODELS = ("builtpsbt", "utxoreservation", "utxofreeze", "signatureupload")


def grant(apps, schema_editor):
    # Permissions are normally created after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.filter(
        content_type__app_label="reserve", codename__in=[f"view_{model}" for model in SIGNING_MODELS]
    )
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*view)
    Group.objects.get(name="operator").permissions.add(
        Permission.objects.get(content_type__app_label="reserve", codename="freeze_utxo")
    )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    perms = Permission.objects.filter(
        content_type__app_label="reserve",
        codename__in=[f"view_{model}" for model in SIGNING_MODELS] + ["freeze_utxo"],
    )
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [("reserve", "0020_signing")]

    operations = [migrations.RunPython(grant, revoke)]
