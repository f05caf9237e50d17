"""Every wallet's agency and perimeter flag become its first membership (in force since the
beginning of its books); PostgreSQL then guards the memberships (reserve/sql/0014_wallet_membership.sql);
operators propose membership changes and approvers decide them."""

from pathlib import Path

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.utils import timezone

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

DROP = """
DROP TRIGGER IF EXISTS reserve_membership_guard ON reserve_walletmembership;
DROP TRIGGER IF EXISTS reserve_membership_in_force ON reserve_walletmembership;
DROP TRIGGER IF EXISTS reserve_wallet_membership_mirror ON reserve_wallet;
DROP FUNCTION IF EXISTS reserve_membership_guard, reserve_membership_in_force, reserve_wallet_membership_mirror;
"""
ROLE_PERMISSIONS = {
    "operator": ("propose_walletmembership", "view_walletmembership"),
    "approver": ("approve_walletmembership", "view_walletmembership"),
    "policy_admin": ("view_walletmembership",),
    "auditor": ("view_walletmembership",),
}


def initial_memberships(apps, schema_editor):
    Wallet = apps.get_model("reserve", "Wallet")
    WalletMembership = apps.get_model("reserve", "WalletMembership")
    WalletMembership.objects.bulk_create(
        WalletMembership(
            wallet_id=wallet.pk,
            agency_id=wallet.agency_id,
            in_perimeter=wallet.in_perimeter,
            status="approved",
            reason="the membership the wallet had when memberships became dated",
            effective_from=None,
            proposed_by_id=wallet.created_by_id,
            proposed_at=wallet.created_at or timezone.now(),
        )
        for wallet in Wallet.objects.all()
    )


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        granted = list(Permission.objects.filter(content_type__app_label="reserve", codename__in=codenames))
        assert len(granted) == len(codenames), f"reserve lacks one of the permissions {codenames}"
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*granted)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = {codename for codenames in ROLE_PERMISSIONS.values() for codename in codenames}
    permissions = Permission.objects.filter(content_type__app_label="reserve", codename__in=codenames)
    for group in Group.objects.filter(name__in=ROLE_PERMISSIONS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("reserve", "0013_wallet_membership")]

    operations = [
        migrations.RunPython(initial_memberships, migrations.RunPython.noop),
        migrations.RunSQL(sql=(SQL_DIR / "0014_wallet_membership.sql").read_text(), reverse_sql=DROP),
        migrations.RunPython(grant, revoke),
    ]
