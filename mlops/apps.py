from django.apps import AppConfig

from linkhub.accounts.signals import consent_changed, user_admin_panels
from linkhub.links.signals import links_created, tags_changed
from snapshots.signals import snapshot_finished


class MlopsConfig(AppConfig):
    name = "mlops"
    verbose_name = "Model operations"

    def ready(self) -> None:
        # Django's rule, not a cycle: receivers use models, which cannot load before the apps are.
        from . import prometheus, receivers
        from .admin import usage

        prometheus.register()

        links_created.connect(receivers.suggest_for_new_links, dispatch_uid="mlops.suggest_new_links")
        snapshot_finished.connect(
            receivers.suggest_after_snapshot, dispatch_uid="mlops.suggest_after_snapshot"
        )
        tags_changed.connect(receivers.answer_suggestions, dispatch_uid="mlops.answer_suggestions")
        tags_changed.connect(receivers.personal_update, dispatch_uid="mlops.personal_update")
        consent_changed.connect(receivers.consent_changed, dispatch_uid="mlops.consent_changed")
        user_admin_panels.connect(usage.data_usage_panel, dispatch_uid="mlops.data_usage_panel")
