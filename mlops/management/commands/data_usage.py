"""python manage.py data_usage --user NAME [--json]"""

from __future__ import annotations

import json

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from mlops import selectors


class Command(BaseCommand):
    help = (
        "Which tag-model versions were trained with a user's data (shared and personal), and which "
        "is the first shared one without it after they went down a consent level."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")

    def handle(self, *args, user: str, as_json: bool = False, **options):
        person = User.objects.filter(username=user).first()
        if person is None:
            raise CommandError(f"No user named {user!r}.")
        usage = selectors.data_usage(user=person)
        history = [
            {"at": c.created_at.isoformat(), "from": c.from_consent, "to": c.to_consent, "source": c.source}
            for c in usage.history
        ]
        report: dict[str, object] = {
            "user": person.get_username(),
            "training_consent": usage.consent,
            "history": history,
            "versions_with_data": [v.number for v in usage.with_data],
            "first_version_without": usage.first_without.number if usage.first_without else None,
            "versions_trained_before_lineage": [v.number for v in usage.unknown],
            "personal_versions": [{"number": v.number, "stage": v.stage} for v in usage.personal],
        }
        if as_json:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(f"{report['user']}: training consent {usage.consent}")
        for c in history:
            self.stdout.write(f"  {c['at']}  {c['from'] or '-'} -> {c['to']}  ({c['source']})")
        if usage.with_data:
            numbers = ", ".join(f"v{v.number}" for v in usage.with_data)
            self.stdout.write(f"Trained with their data: {numbers}")
            if usage.first_without:
                self.stdout.write(f"First version without their data since: v{usage.first_without.number}")
            else:
                self.stdout.write("No version since has been trained without their data yet.")
        else:
            self.stdout.write("No version of the shared model was trained with their data.")
        if usage.unknown:
            numbers = ", ".join(f"v{v.number}" for v in usage.unknown)
            self.stdout.write(f"Trained on decisions before lineage was recorded (users unknown): {numbers}")
        if usage.personal:
            listed = ", ".join(f"personal v{v.number} ({v.stage})" for v in usage.personal)
            self.stdout.write(f"Their personal model (their data only): {listed}")
        else:
            self.stdout.write("No personal model has been trained for them.")
