"""Beat schedules of the tag model, editable in the admin under "Periodic tasks"."""

from django.db import migrations

INTERVALS = [
    ("Tag model: roll-out rules and retraining after new decisions", "mlops.tasks.rollout_check", 10, "minutes"),
    ("Tag model: online metrics", "mlops.tasks.record_online_metrics", 1, "hours"),
]
TRAINING = ("Tag model: scheduled training", "mlops.tasks.scheduled_training")


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period in INTERVALS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": schedule})
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(name=TRAINING[0], defaults={"task": TRAINING[1], "crontab": nightly})


def remove(apps, schema_editor):
    tasks = [t for _, t, *_ in INTERVALS] + [TRAINING[1]]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task__in=tasks).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mlops", "0002_append_only_triggers"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, remove)]
