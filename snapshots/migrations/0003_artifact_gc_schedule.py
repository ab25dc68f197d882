"""Beat schedule: delete artifacts that no snapshot uses any more, once an hour."""

from django.db import migrations

NAME = "Delete unused snapshot artifacts"
TASK = "snapshots.tasks.collect_artifact_garbage"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(name=NAME, defaults={"task": TASK, "interval": every})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [("snapshots", "0002_schedules")]
    operations = [migrations.RunPython(create, remove)]
