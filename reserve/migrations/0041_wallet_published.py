"""A wallet opts in to the public transparency page (reserve/public/)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reserve", "0040_proof_block_and_statement")]

    operations = [
        migrations.AddField(
            model_name="wallet",
            name="published",
            field=models.BooleanField(
                default=False,
                help_text="Shown on the public transparency page (/transparency/): its name, addresses and holdings",
            ),
        ),
    ]
