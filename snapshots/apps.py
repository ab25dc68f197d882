from django.apps import AppConfig

from linkhub.links.signals import links_created


class SnapshotsConfig(AppConfig):
    name = "snapshots"
    verbose_name = "Snapshots"

    def ready(self) -> None:
        # Django's rule, not a cycle: receivers use models, which cannot load before the apps are.
        from . import prometheus, receivers

        prometheus.register()

        links_created.connect(receivers.take_first_snapshots, dispatch_uid="snapshots.first_snapshots")
