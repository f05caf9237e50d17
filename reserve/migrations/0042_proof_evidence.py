"""A proof keeps the chain evidence bundled when its statement was made, so the download verifies offline."""

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [("reserve", "0071_merge_categories")]

    operations = [
        migrations.AddField(
            model_name="reserveproof",
            name="evidence",
            field=models.JSONField(
                help_text="Headers, transactions and merkle branches bundled when the statement was made", null=True
            ),
        ),
        migrations.AddConstraint(
            model_name="reserveproof",
            constraint=models.CheckConstraint(
                condition=Q(evidence__isnull=True) | Q(statement__evidence__bundled=True),
                name="reserve_proof_evidence_bundled",
            ),
        ),
    ]
