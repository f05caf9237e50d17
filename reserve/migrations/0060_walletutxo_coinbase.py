"""The scanner marks a coin its block's coinbase created, so the wallet page can show it immature
(rows scanned before this migration read false until a rescan; coin selection reads the block itself)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reserve", "0071_merge_categories")]

    operations = [
        migrations.AddField(
            model_name="walletutxo",
            name="coinbase",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Created by its block's coinbase (immature for 100 blocks)",
            ),
        ),
    ]
