"""manage.py evaluate_tag_model --dataset FILE.jsonl [--version N|production] [--all] [--json]"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from mlops.models import ModelVersion, Stage
from mlops.services import registry
from mlops.services.training import HOLDOUT_SEED, HOLDOUT_SHARE, dataset_examples
from mlops.training import data, metrics
from mlops.training.metric_names import OFFLINE_NAMES


class Command(BaseCommand):
    help = (
        "Evaluate a model version on a labelled JSON Lines file. By default on the file's holdout "
        "part (the same fixed split training uses, so a model trained on the file is not scored "
        "on its own training data); --all scores every line."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is ours (a model version), not Django's "print Django's version".
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--version", default="production", help="a version number, or production")
        parser.add_argument("--all", action="store_true", help="evaluate on every example of the file")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, dataset: str, version: str, all: bool, json: bool, **options):
        if version == "production":
            chosen = ModelVersion.objects.shared().filter(stage=Stage.PRODUCTION).first()
            if chosen is None:
                raise CommandError("No version is in production; name one with --version N.")
        elif version.isdigit():
            chosen = ModelVersion.objects.shared().filter(number=int(version)).first()
            if chosen is None:
                raise CommandError(f"There is no version {version}.")
        else:
            raise CommandError("--version takes a number or 'production'.")
        try:
            examples = dataset_examples(dataset).examples
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if not all:
            _, examples = data.split(examples, test_size=HOLDOUT_SHARE, seed=HOLDOUT_SEED)
        result = metrics.evaluate(registry.model_load(chosen), examples)
        per_tag = result.pop("per_tag", {})
        result.update(
            version=chosen.number, stage=chosen.stage, design=chosen.design, split="all" if all else "holdout"
        )
        if json:
            self.stdout.write(_dumps(result))
            return
        where = f"{dataset} ({result['split']}, n={result['n']})"
        self.stdout.write(f"v{chosen.number} ({chosen.design}, {chosen.stage}) on {where}:")
        for name in OFFLINE_NAMES:
            if name in result:
                self.stdout.write(f"  {name:16s} {result[name]:.4f}")
        worst = sorted(per_tag.items(), key=lambda kv: (kv[1].get("f1", 0), -kv[1].get("support", 0)))[:5]
        if worst:
            self.stdout.write(
                "  weakest tags: " + ", ".join(f"{t} (F1 {m.get('f1', 0):.2f})" for t, m in worst)
            )


def _dumps(obj) -> str:
    return json.dumps(obj, default=str, sort_keys=True)
