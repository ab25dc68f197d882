"""``TagDecision`` now belongs to the links app (links.0004 took over its table): drop it from this
app's state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mlops", "0007_drift_alert_schedules"),
        ("links", "0004_tagdecision"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="TagDecision")],
            database_operations=[],
        ),
    ]
