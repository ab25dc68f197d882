"""Training consent in three levels (none, own, shared) instead of a yes/no for the shared model.

Existing choices keep their meaning: yes becomes ``shared``; no (or never asked) becomes ``none``,
since those users never agreed to any training, personal or not. The history keeps each change
as the level it set."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    Profile = apps.get_model("accounts", "Profile")
    ConsentChange = apps.get_model("accounts", "ConsentChange")
    Profile.objects.filter(share_for_training=True).update(training_consent="shared")
    ConsentChange.objects.filter(share_for_training=True).update(to_consent="shared")
    ConsentChange.objects.filter(share_for_training=False).update(to_consent="none")


def backwards(apps, schema_editor):
    Profile = apps.get_model("accounts", "Profile")
    ConsentChange = apps.get_model("accounts", "ConsentChange")
    Profile.objects.filter(training_consent="shared").update(share_for_training=True)
    ConsentChange.objects.filter(to_consent="shared").update(share_for_training=True)


CHOICES = [
    ("none", "None: my links and decisions train nothing"),
    ("own", "Own: they train my personal model only, never a model that serves anyone else"),
    ("shared", "Shared: they train my personal model and the shared model"),
]


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_roles")]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="training_consent",
            field=models.CharField(choices=CHOICES, default="none", max_length=8),
        ),
        migrations.AddField(
            model_name="consentchange",
            name="from_consent",
            field=models.CharField(blank=True, choices=CHOICES, max_length=8),
        ),
        migrations.AddField(
            model_name="consentchange",
            name="to_consent",
            field=models.CharField(choices=CHOICES, default="none", max_length=8),
            preserve_default=False,
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="profile", name="share_for_training"),
        migrations.RemoveField(model_name="consentchange", name="share_for_training"),
    ]
