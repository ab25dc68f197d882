"""PostgreSQL search index (GIN on the search vector), and the import sweep schedule."""

from django.db import migrations


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite searches with a substring fallback and needs no index
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS link_search_vector_gin ON links_link USING gin (search_vector)"
    )


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS link_search_vector_gin")


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_10_min, _ = IntervalSchedule.objects.get_or_create(every=10, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Fail imports whose worker died",
        defaults={"task": "linkhub.links.tasks.sweep_stale_imports", "interval": every_10_min},
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task="linkhub.links.tasks.sweep_stale_imports"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("links", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [
        migrations.RunPython(create_search_index, drop_search_index),
        migrations.RunPython(create_schedules, remove_schedules),
    ]
