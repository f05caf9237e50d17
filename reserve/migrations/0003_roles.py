"""Create the role groups (operator, approver, policy_admin, auditor) with their reserve and ledger permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ("operator", "approver", "policy_admin", "auditor")
RESERVE_MODELS = (
    "agency",
    "wallet",
    "walletdescriptor",
    "watchedscript",
    "counterparty",
    "transfer",
    "approval",
    "pricequote",
    "auditevent",
)
LEDGER_MODELS = ("account", "journaltransaction", "entry", "accountbalance", "pendingtransaction", "pendingentry")
ROLE_PERMISSIONS = {
    "operator": (
        "add_agency",
        "change_agency",
        "add_wallet",
        "change_wallet",
        "add_counterparty",
        "change_counterparty",
        "add_transfer",
        "propose_transfer",
        "execute_transfer",
        "import_transfers",
        "add_pricequote",
    ),
    "approver": ("approve_transfer", "add_approval"),
    "policy_admin": (),
    "auditor": (),
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.filter(
        content_type__app_label="reserve", codename__in=[f"view_{model}" for model in RESERVE_MODELS]
    ) | Permission.objects.filter(
        content_type__app_label="ledger", codename__in=[f"view_{model}" for model in LEDGER_MODELS]
    )
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        granted = Permission.objects.filter(content_type__app_label="reserve", codename__in=ROLE_PERMISSIONS[role])
        group.permissions.add(*view, *granted)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reserve", "0002_reserve_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
