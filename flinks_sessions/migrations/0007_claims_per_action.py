"""One claim discipline for every action: the restart claim gets a token like the others, and a failed cancel
is kept apart from a failed sync or guarantee call."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("flinks_sessions", "0006_sessionevent_kinds_merged")]

    operations = [
        migrations.RenameField("paymentsession", "restarting_since", "restart_claimed_at"),
        migrations.AddField(
            model_name="paymentsession",
            name="restart_claim",
            field=models.UUIDField(blank=True, editable=False, null=True, verbose_name="restart claim"),
        ),
        migrations.AddField(
            model_name="paymentsession",
            name="cancel_failed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="cancel failed at"),
        ),
    ]
