"""Who may draft, approve and retire policies and resolve breaches: policy's own permissions."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("policy", "0002_policy_triggers"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="policy",
            options={
                "permissions": [("retire_policy", "Can propose the retirement of a policy")],
                "verbose_name_plural": "policies",
            },
        ),
        migrations.AlterModelOptions(
            name="policybreach",
            options={
                "ordering": ["-detected_at", "-id"],
                "permissions": [("resolve_policybreach", "Can resolve a policy breach with a reason")],
            },
        ),
        migrations.AlterModelOptions(
            name="policyversion",
            options={
                "ordering": ["policy_id", "version"],
                "permissions": [
                    ("draft_policyversion", "Can draft a policy version"),
                    ("approve_policyversion", "Can approve a policy version drafted by someone else"),
                ],
            },
        ),
    ]
