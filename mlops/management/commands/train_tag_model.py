"""manage.py train_tag_model [--dataset FILE.jsonl] [--design NAME] [--json]"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from linkhub.audit import change_source
from mlops.models import TrainingRun
from mlops.services.training import training_request, training_run
from mlops.training.metric_names import OFFLINE_NAMES


class Command(BaseCommand):
    help = (
        "Train a candidate tag model here and now: on the human-verified decisions of consenting "
        "users, or on a labelled JSON Lines file (--dataset). It is evaluated on the fixed holdout, "
        "gated against production and registered."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", help="JSON Lines: one {url, title, description, tags} per line")
        parser.add_argument("--design", default="", help="a design name (default: the best available)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, dataset: str | None, design: str, json: bool, **options):
        as_json = json
        trigger = TrainingRun.Trigger.DATASET if dataset else TrainingRun.Trigger.MANUAL
        with change_source("cli"):
            run = training_request(trigger=trigger, dataset=dataset or "", design=design, queue=False)
            if run.is_finished or run.status == TrainingRun.Status.RUNNING:
                raise CommandError(f"Training run {run.pk} is already under way.")
            if not as_json:
                self.stdout.write(f"Training run {run.pk} ({trigger})…")
            run = training_run(run_id=run.pk)
        version = run.version
        if as_json:
            out = {"run": run.pk, "status": run.status, "message": run.message, "version": None}
            if version is not None:
                out.update(
                    version=version.number,
                    stage=version.stage,
                    design=version.design,
                    gate=version.gate,
                    data_fingerprint=version.data_fingerprint,
                    **{k: v for k, v in version.metrics.items() if not isinstance(v, dict)},
                )
            self.stdout.write(_dumps(out))
        else:
            self.stdout.write(run.message)
            if version is not None:
                metrics = version.metrics
                self.stdout.write(
                    f"v{version.number} ({version.design}, {version.stage}): "
                    + ", ".join(f"{k} {metrics[k]:.4f}" for k in OFFLINE_NAMES if k in metrics)
                    + f", n {metrics.get('n')}"
                )
        if run.status == TrainingRun.Status.FAILED:
            sys.exit(1)


def _dumps(obj) -> str:
    return json.dumps(obj, default=str, sort_keys=True)
