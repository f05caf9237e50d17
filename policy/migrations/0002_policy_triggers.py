"""Load the append-only and immutability triggers from policy/sql/0002_policy_triggers.sql."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

DROP = """
DROP TRIGGER IF EXISTS policy_policybreach_no_delete ON policy_policybreach;
DROP TRIGGER IF EXISTS policy_policybreach_guard ON policy_policybreach;
DROP TRIGGER IF EXISTS policy_policyversion_no_delete ON policy_policyversion;
DROP TRIGGER IF EXISTS policy_policyversion_guard ON policy_policyversion;
DROP TRIGGER IF EXISTS policy_policyversionapproval_immutable ON policy_policyversionapproval;
DROP TRIGGER IF EXISTS policy_policyevaluation_immutable ON policy_policyevaluation;
DROP FUNCTION IF EXISTS policy_breach_before_update, policy_version_before_delete, policy_version_before_update,
    policy_immutable;
"""


class Migration(migrations.Migration):
    dependencies = [("policy", "0001_initial")]

    operations = [
        migrations.RunSQL(sql=(SQL_DIR / "0002_policy_triggers.sql").read_text(), reverse_sql=DROP),
    ]
