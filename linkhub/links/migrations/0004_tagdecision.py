"""The tag audit moves here from the mlops app: every tag change is written by the links app, so
its audit rows live with it. The rows stay where they are: the model is created in this app's
state only, its table renamed to ``links_tagdecision``, and its references to mlops rows become
plain numbers (they never had a database constraint). The PostgreSQL append-only trigger follows
the table; only its name changes."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def rename_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DO $$ BEGIN "
        "IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'mlops_tagdecision_append_only') THEN "
        "ALTER TRIGGER mlops_tagdecision_append_only ON links_tagdecision "
        "RENAME TO links_tagdecision_append_only; END IF; END $$"
    )


def unrename_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DO $$ BEGIN "
        "IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'links_tagdecision_append_only') THEN "
        "ALTER TRIGGER links_tagdecision_append_only ON links_tagdecision "
        "RENAME TO mlops_tagdecision_append_only; END IF; END $$"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("links", "0003_trigram_indexes"),
        ("mlops", "0007_drift_alert_schedules"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TagDecision",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("link_url", models.URLField(max_length=2048)),
                        ("tag_name", models.CharField(max_length=100)),
                        ("tag_key", models.CharField(db_index=True, max_length=200)),
                        ("action", models.CharField(choices=[("accept", "accept"), ("reject", "reject"), ("add", "add"), ("remove", "remove"), ("auto_apply", "auto-apply (model)")], max_length=12)),
                        ("actor_name", models.CharField(max_length=150)),
                        ("reason", models.TextField(blank=True)),
                        ("source", models.CharField(choices=[("ui", "web UI"), ("api", "API"), ("admin", "admin"), ("import", "import"), ("cli", "command line"), ("model", "model")], max_length=8)),
                        ("suggestion_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                        ("model_version_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                        ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("actor", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("link", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="links.link")),
                        ("link_owner", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "ordering": ["-at", "-id"],
                        "db_table": "mlops_tagdecision",
                        "indexes": [models.Index(fields=["link", "tag_key"], name="mlops_tagde_link_id_dcfd10_idx")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="tagdecision", table=None),
        migrations.RunPython(rename_trigger, unrename_trigger),
    ]
