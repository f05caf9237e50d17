"""The roles' share of policy's own permissions: policy administrators draft, approve and retire
policies; they and operators resolve breaches (what policy's services check, so policy names no role)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "policy_admin": ("draft_policyversion", "approve_policyversion", "retire_policy", "resolve_policybreach"),
    "operator": ("resolve_policybreach",),
}
CODENAMES = {codename for codenames in ROLE_PERMISSIONS.values() for codename in codenames}


def grant(apps, schema_editor):
    # Permissions are normally created after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        granted = list(Permission.objects.filter(content_type__app_label="policy", codename__in=codenames))
        assert len(granted) == len(codenames), f"policy lacks one of the permissions {codenames}"
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*granted)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="policy", codename__in=CODENAMES)
    for group in Group.objects.filter(name__in=ROLE_PERMISSIONS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("reserve", "0008_chainblock_header"), ("policy", "0003_permissions")]

    operations = [migrations.RunPython(grant, revoke)]
