"""python manage.py import_bookmarks FILE --user NAME [--queue]"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from linkhub.links import services
from linkhub.queueing import enqueue_failures

BROKER_AWAY = (
    "The broker (Redis) did not answer, so {what} could not be queued now. Nothing is lost: "
    "it is stored, and the sweep queues it once Redis and the workers run."
)


class Command(BaseCommand):
    help = "Import a Netscape bookmark file (as browsers export it) for a user."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True, help="username of the owner")
        parser.add_argument(
            "--queue", action="store_true", help="queue the import for a worker instead of running it here"
        )

    def handle(self, *args, file: Path, user: str, queue: bool, **options):
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {user!r}.") from None
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        upload = SimpleUploadedFile(file.name, data, content_type="text/html")
        failures = enqueue_failures()
        try:
            job = services.import_start(owner=owner, upload=upload, queue=queue)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if queue:
            self.stdout.write(f"Stored import {job.pk}: {job.total} bookmarks.")
            if enqueue_failures() > failures:
                self.stdout.write(self.style.WARNING(BROKER_AWAY.format(what="the import")))
            else:
                self.stdout.write("Queued: a worker imports it.")
            return

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"  {done}/{total} ({100 * done // max(total, 1)}%)")

        result = services.import_run(job_id=job.pk, on_progress=progress)
        if result is None or result.status != result.Status.SUCCEEDED:
            raise CommandError(result.message if result else "The import did not run.")
        self.stdout.write(self.style.SUCCESS(f"Imported {file.name}: {result.message}"))
        for err in result.errors[:20]:
            self.stdout.write(f"  skipped line {err['line']}: {err['url']}: {err['reason']}")
        if enqueue_failures() > failures:
            what = f"the work that follows the {result.created} new links (their snapshots)"
            self.stdout.write(self.style.WARNING(BROKER_AWAY.format(what=what)))
