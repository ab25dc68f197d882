from django.urls import path

from linkhub.converters import register_choices

from . import views
from .models import SnapshotArtifact


def register_converters() -> None:
    """``<artifact:name>``: the names snapshots store, less the raw upload (only an input)."""
    register_choices(
        "artifact", [n for n in SnapshotArtifact.Name.values if n != SnapshotArtifact.Name.UPLOAD]
    )


register_converters()

app_name = "snapshots"

urlpatterns = [
    path("links/<id:pk>/snapshot/", views.snapshot_request, name="request"),
    path("links/<id:pk>/snapshots/upload/", views.snapshot_upload, name="upload"),
    path("links/<id:pk>/snapshots/schedule/", views.snapshot_schedule, name="schedule"),
    path("links/<id:pk>/snapshots/diff/", views.snapshot_diff, name="diff"),
    path("snapshots/<id:pk>/", views.snapshot_detail, name="detail"),
    path("snapshots/<id:pk>/retry/", views.snapshot_retry, name="retry"),
    path("snapshots/<id:pk>/artifacts/<artifact:name>", views.snapshot_artifact, name="artifact"),
]
