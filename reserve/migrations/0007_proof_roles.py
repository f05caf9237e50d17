"""Every role may read proofs of reserves; operators issue challenges and submit proofs."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ("operator", "approver", "policy_admin", "auditor")
PROOF_MODELS = ("reserveproofchallenge", "reserveproof")


def grant(apps, schema_editor):
    # Permissions are normally created after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.filter(
        content_type__app_label="reserve", codename__in=[f"view_{model}" for model in PROOF_MODELS]
    )
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*view)
    add = Permission.objects.filter(
        content_type__app_label="reserve", codename__in=[f"add_{model}" for model in PROOF_MODELS]
    )
    Group.objects.get(name="operator").permissions.add(*add)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    perms = Permission.objects.filter(content_type__app_label="reserve", codename__endswith="reserveproof") | (
        Permission.objects.filter(content_type__app_label="reserve", codename__endswith="reserveproofchallenge")
    )
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [("reserve", "0006_api_idempotency_and_proofs")]

    operations = [migrations.RunPython(grant, revoke)]
