"""A challenge names the block it is answered at; a proof keeps the holdings statement the service signed."""

from django.db import migrations, models
from django.db.models import Q

STATEMENT_SIGNED = Q(statement__isnull=True, statement_signature="") | Q(
    statement__isnull=False, statement_signature__regex=r"^[0-9a-f]{128}$"
)
CHALLENGE_BLOCK = Q(block_height__isnull=True, block_hash="") | Q(
    block_height__isnull=False, block_hash__regex=r"^[0-9a-f]{64}$"
)


class Migration(migrations.Migration):
    dependencies = [("reserve", "0017_import_approval_role")]

    operations = [
        migrations.AddField(
            model_name="reserveproof",
            name="statement",
            field=models.JSONField(
                help_text="The holdings statement the service signed (reserve/proofs/statements.py)", null=True
            ),
        ),
        migrations.AddField(
            model_name="reserveproof",
            name="statement_signature",
            field=models.CharField(blank=True, help_text="Ed25519, hex", max_length=128),
        ),
        migrations.AddField(
            model_name="reserveproofchallenge",
            name="block_hash",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="reserveproofchallenge",
            name="block_height",
            field=models.PositiveIntegerField(
                help_text="The block the proof is stated at, named by the server (its hash is in the message)",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="reserveproof",
            constraint=models.CheckConstraint(condition=STATEMENT_SIGNED, name="reserve_proof_statement_signed"),
        ),
        migrations.AddConstraint(
            model_name="reserveproofchallenge",
            constraint=models.CheckConstraint(condition=CHALLENGE_BLOCK, name="reserve_challenge_block"),
        ),
    ]
