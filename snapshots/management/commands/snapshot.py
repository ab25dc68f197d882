"""python manage.py snapshot URL_OR_LINK_ID --user NAME [--wait]"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from linkhub.links.models import Link
from linkhub.links.services import link_create
from snapshots import services
from snapshots.models import Snapshot
from snapshots.pipeline import snapshot_run


class Command(BaseCommand):
    help = "Snapshot a URL (saving it as a link if needed) or a link id, and print where the artifacts are."

    def add_arguments(self, parser):
        parser.add_argument("target", help="a URL, or the id of one of the user's links")
        parser.add_argument("--user", required=True)
        parser.add_argument("--wait", action="store_true", help="render here and now instead of queuing it")

    def handle(self, *args, target: str, user: str, wait: bool, **options):
        owner = User.objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"No user named {user!r}.")
        if target.isdigit():
            link = Link.objects.filter(owner=owner, pk=int(target)).first()
            if link is None:
                raise CommandError(f"{user} has no link {target}.")
        else:
            try:
                # One version only: the one this command asks for below (not also the on-save one).
                link, _ = link_create(owner=owner, url=target, capture=False)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        if wait:
            snapshot = self._render_here(link, owner)
        else:
            snapshot = services.snapshot_request(link=link, source=Snapshot.Source.MANUAL, actor=owner)
            self.stdout.write(
                f"Queued snapshot {snapshot.pk} (v{snapshot.version}) of link {link.pk}: {link.url}"
            )
            return
        self._report(snapshot)
        if snapshot.status != Snapshot.Status.SUCCEEDED:
            raise CommandError(snapshot.failure_message or "The snapshot did not succeed.")

    def _render_here(self, link: Link, owner: User) -> Snapshot:
        # Render in this process (the same service a worker calls); retries happen here too.
        snapshot = services.snapshot_request(
            link=link, source=Snapshot.Source.MANUAL, actor=owner, queue=False
        )
        self.stdout.write(
            f"Rendering {link.url} (link {link.pk}, snapshot {snapshot.pk}, v{snapshot.version})…"
        )
        while True:
            outcome = snapshot_run(snapshot_id=snapshot.pk, worker="manage.py snapshot")
            if outcome is None or outcome.retry_in is None:
                break
            self.stdout.write(
                f"  attempt failed, trying again (would wait {outcome.retry_in:.0f}s in a worker)"
            )
            services.snapshot_due_now(snapshot_id=snapshot.pk)
        snapshot.refresh_from_db()
        return snapshot

    def _report(self, snapshot: Snapshot) -> None:
        self.stdout.write(
            f"Status: {snapshot.get_status_display()}"
            + (f" — {snapshot.failure_message}" if snapshot.failure_reason else "")
        )
        if snapshot.suspect_reason:
            self.stdout.write(f"Suspect: {snapshot.suspect_reason}")
        for row in snapshot.snapshot_artifacts.select_related("artifact").order_by("name"):
            try:
                where = default_storage.path(row.artifact.path)
            except NotImplementedError:  # object storage: no local path
                where = row.artifact.path
            self.stdout.write(f"  {row.name:15} {row.artifact.size:>10,} bytes  {where}")
        timings = snapshot.provenance.get("timings", {})
        if timings:
            self.stdout.write(
                "  timings: " + ", ".join(f"{k} {v}s" for k, v in timings.items() if v is not None)
            )
