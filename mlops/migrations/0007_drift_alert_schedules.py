"""Beat schedules of drift, data quality and alerts, editable in the admin under "Periodic tasks"."""

from django.db import migrations

INTERVALS = [
    ("Alerts: evaluate the rules", "mlops.tasks.evaluate_alerts", 5, "minutes"),
    ("Data quality: recent snapshot health", "mlops.tasks.record_data_quality", 15, "minutes"),
]
DRIFT = ("Tag model: drift and data-quality check", "mlops.tasks.run_drift_check")


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period in INTERVALS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": schedule})
    # Daily, after the nightly training (03:30).
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="4", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(name=DRIFT[0], defaults={"task": DRIFT[1], "crontab": daily})


def remove(apps, schema_editor):
    tasks = [t for _, t, *_ in INTERVALS] + [DRIFT[1]]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task__in=tasks).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mlops", "0006_alert_rules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, remove)]
