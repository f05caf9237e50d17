"""Approvals bind the content hash they approved; the database checks approvers and keeps
authors and approved content (policy/sql/0004_policy_approval_guards.sql)."""

from pathlib import Path

from django.db import migrations, models

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def _previous_version_guard() -> str:
    text = (SQL_DIR / "0002_policy_triggers.sql").read_text()
    start = text.index("CREATE OR REPLACE FUNCTION policy_version_before_update()")
    return text[start : text.index("END $$;", start) + len("END $$;")]


BACKFILL = """
ALTER TABLE policy_policyversionapproval DISABLE TRIGGER policy_policyversionapproval_immutable;
UPDATE policy_policyversionapproval a SET content_sha256 = policy_version_content_sha256(v)
  FROM policy_policyversion v WHERE v.id = a.version_id;
ALTER TABLE policy_policyversionapproval ENABLE TRIGGER policy_policyversionapproval_immutable;
"""

DROP = """
DROP TRIGGER IF EXISTS policy_policy_guard ON policy_policy;
DROP TRIGGER IF EXISTS policy_policyversionapproval_check ON policy_policyversionapproval;
DROP FUNCTION IF EXISTS policy_policy_before_update, policy_approval_before_insert, policy_user_holds_permission,
    policy_version_content_sha256, policy_canonical_time;
""" + _previous_version_guard()


class Migration(migrations.Migration):
    dependencies = [("policy", "0003_permissions")]

    operations = [
        migrations.AddField(
            model_name="policyversionapproval",
            name="content_sha256",
            field=models.CharField(
                blank=True,
                default="",
                editable=False,
                max_length=64,
                help_text="SHA-256 of the version's content when approved (set by the database)",
            ),
        ),
        migrations.RunSQL(sql=(SQL_DIR / "0004_policy_approval_guards.sql").read_text() + BACKFILL, reverse_sql=DROP),
    ]
