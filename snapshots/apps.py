from django.apps import AppConfig
from django.core import checks

from linkhub.links.signals import links_created


class SnapshotsConfig(AppConfig):
    name = "snapshots"
    verbose_name = "Snapshots"

    def ready(self) -> None:
        # Django's rule, not a cycle: receivers use models, which cannot load before the apps are.
        from . import checks as snapshot_checks
        from . import prometheus, receivers

        prometheus.register()
        checks.register(snapshot_checks.lease_outlasts_heartbeats)

        links_created.connect(receivers.take_first_snapshots, dispatch_uid="snapshots.first_snapshots")
