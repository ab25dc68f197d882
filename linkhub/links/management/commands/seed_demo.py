"""python manage.py seed_demo [--dataset FILE.jsonl] [--user demo] [--limit N]"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from linkhub.accounts.services import user_signup
from linkhub.links import services

DEFAULT_DATASET = settings.BASE_DIR.parent / "shared" / "datasets" / "awesome-selfhosted.jsonl"


class Command(BaseCommand):
    help = "Create a demo user with links and tags from a labelled JSON Lines dataset."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
        parser.add_argument("--user", default="demo")
        parser.add_argument("--password", default="", help="default: a random one, printed")
        parser.add_argument("--limit", type=int, default=0, help="at most this many links (0: all)")
        parser.add_argument(
            "--consent",
            choices=["none", "own", "shared"],
            default=None,
            help="the demo user's training consent (default: DEFAULT_TRAINING_CONSENT)",
        )

    def handle(
        self, *args, dataset: Path, user: str, password: str, limit: int, consent: str | None, **options
    ):
        if not dataset.exists():
            raise CommandError(f"No dataset at {dataset}; pass --dataset FILE.jsonl.")
        owner = User.objects.filter(username=user).first()
        if owner is None:
            password = password or secrets.token_urlsafe(9)
            owner = user_signup(username=user, password=password, training_consent=consent)
            self.stdout.write(f"Created user {user} with password {password}")
        created = existing = skipped = 0
        with dataset.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if limit and created + existing >= limit:
                    break
                try:
                    row = json.loads(line)
                    _, was_created = services.link_create(
                        owner=owner,
                        url=row["url"],
                        title=row.get("title", "")[:512],
                        description=row.get("description", "")[:10_000],
                        tags=row.get("tags", []),
                    )
                except (ValueError, KeyError, ValidationError) as exc:
                    skipped += 1
                    self.stderr.write(f"line {n}: skipped ({exc})")
                    continue
                created, existing = created + was_created, existing + (not was_created)
                if (created + existing) % 250 == 0:
                    self.stdout.write(f"  {created + existing} links…")
        self.stdout.write(
            self.style.SUCCESS(
                f"{user}: {created} links created, {existing} already there, {skipped} skipped."
            )
        )
