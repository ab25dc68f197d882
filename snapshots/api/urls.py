from django.urls import path

from ..urls import register_converters
from . import views

register_converters()

urlpatterns = [
    path("links/<id:pk>/snapshot/", views.LinkSnapshotRequestView.as_view(), name="api-link-snapshot"),
    path("links/<id:pk>/snapshots/", views.LinkSnapshotListView.as_view(), name="api-link-snapshots"),
    path(
        "links/<id:pk>/snapshots/upload/",
        views.LinkSnapshotUploadView.as_view(),
        name="api-link-snapshot-upload",
    ),
    path(
        "links/<id:pk>/snapshot-schedule/",
        views.LinkSnapshotScheduleView.as_view(),
        name="api-link-snapshot-schedule",
    ),
    path("snapshots/<id:pk>/", views.SnapshotDetailView.as_view(), name="api-snapshot-detail"),
    path("snapshots/<id:pk>/retry/", views.SnapshotRetryView.as_view(), name="api-snapshot-retry"),
    path("snapshots/<id:pk>/diff/", views.SnapshotDiffView.as_view(), name="api-snapshot-diff"),
    path(
        "snapshots/<id:pk>/artifacts/<artifact:name>",
        views.SnapshotArtifactView.as_view(),
        name="api-snapshot-artifact",
    ),
]
