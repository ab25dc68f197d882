"""python manage.py export_model_card [--version N|production] [--out docs/model-cards/]

Writes a version's model card as Markdown (``v<N>.md``), from the same facts and the same Django
template source as the card page, for the documentation site.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.template.loader import render_to_string

from mlops import selectors
from mlops.services.registry import policy_get


class Command(BaseCommand):
    help = "Write a model version's card as Markdown (default: the production version)."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Django's own --version (its version number) would clash with ours: ours wins.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--version",
            default=None,
            help="a version number (N or vN) or 'production'; default: production, else the newest",
        )
        parser.add_argument(
            "--out",
            type=Path,
            default=None,
            help="folder to write v<N>.md into (default: docs/model-cards/ of the project)",
        )

    def handle(self, *args, version: str | None, out: Path | None, **options):
        try:
            row = selectors.model_version_for_export(version)
        except ValueError:
            raise CommandError(f"--version takes a number or 'production', not {version!r}.") from None
        if row is None:
            raise CommandError(
                "No version is in production." if version == "production" else "No such model version."
            )
        folder = out if out is not None else Path(settings.BASE_DIR) / "docs" / "model-cards"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"v{row.number}.md"
            text = render_to_string("mlops/model_card.md", selectors.model_card(row, policy=policy_get()))
            path.write_text(text.strip() + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write the card into {folder}: {exc.strerror}") from None
        self.stdout.write(self.style.SUCCESS(f"Wrote the card of v{row.number} to {path}"))
