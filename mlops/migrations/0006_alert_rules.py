"""The default alert rules, and on PostgreSQL the append-only trigger of their audit rows.

Each rule compares the mean of a metric's points over its window with a threshold. The drift
rules look back 25 hours so that the daily drift check's latest point is always inside.
"""

from django.db import migrations

RULES = [
    {
        "name": "Acceptance rate below 0.40",
        "metric": "online_acceptance_rate",
        "comparison": "lt",
        "threshold": 0.4,
        "window_minutes": 24 * 60,
        "severity": "warning",
        "description": "People accept fewer than 4 in 10 of the suggestions they answer.",
    },
    {
        "name": "Input text drift",
        "metric": "drift_text",
        "comparison": "ge",
        "threshold": 0.7,
        "window_minutes": 25 * 60,
        "severity": "warning",
        "description": (
            "A classifier tells recent links' texts from the training data's with ROC AUC 0.7 or "
            "more: the model now sees different inputs from those it learned on."
        ),
    },
    {
        "name": "Predicted tag drift",
        "metric": "drift_predicted_tags",
        "comparison": "ge",
        "threshold": 0.2,
        "window_minutes": 25 * 60,
        "severity": "warning",
        "description": (
            "The production model's top tags on recent links differ from those on its holdout "
            "(PSI 0.2 or more)."
        ),
    },
    {
        "name": "Snapshot failures above 20%",
        "metric": "quality_snapshot_failure_rate",
        "comparison": "gt",
        "threshold": 0.2,
        "window_minutes": 60,
        "severity": "critical",
        "description": "More than one in five snapshots finished in the last hour failed.",
    },
]
TABLE = "mlops_alertrulechange"


def create(apps, schema_editor):
    AlertRule = apps.get_model("mlops", "AlertRule")
    AlertRuleChange = apps.get_model("mlops", "AlertRuleChange")
    for fields in RULES:
        rule, created = AlertRule.objects.get_or_create(name=fields["name"], defaults=fields)
        if created:
            AlertRuleChange.objects.create(
                rule=rule,
                rule_name=rule.name,
                actor=None,
                actor_name="system",
                changes={key: [None, value] for key, value in fields.items()},
                reason="a default rule",
            )
    if schema_editor.connection.vendor == "postgresql":
        # The function is 0002's: it refuses every UPDATE and DELETE.
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION linkhub_audit_append_only()"
        )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    apps.get_model("mlops", "AlertRule").objects.filter(name__in=[r["name"] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("mlops", "0005_drift_and_alerts")]
    operations = [migrations.RunPython(create, remove)]
