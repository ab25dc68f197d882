from django.urls import path

from . import views

urlpatterns = [
    path("links/<int:pk>/snapshot/", views.LinkSnapshotRequestView.as_view(), name="api-link-snapshot"),
    path("links/<int:pk>/snapshots/", views.LinkSnapshotListView.as_view(), name="api-link-snapshots"),
    path(
        "links/<int:pk>/snapshots/upload/",
        views.LinkSnapshotUploadView.as_view(),
        name="api-link-snapshot-upload",
    ),
    path(
        "links/<int:pk>/snapshot-schedule/",
        views.LinkSnapshotScheduleView.as_view(),
        name="api-link-snapshot-schedule",
    ),
    path("snapshots/<int:pk>/", views.SnapshotDetailView.as_view(), name="api-snapshot-detail"),
    path("snapshots/<int:pk>/retry/", views.SnapshotRetryView.as_view(), name="api-snapshot-retry"),
    path("snapshots/<int:pk>/diff/", views.SnapshotDiffView.as_view(), name="api-snapshot-diff"),
    path(
        "snapshots/<int:pk>/artifacts/<str:name>",
        views.SnapshotArtifactView.as_view(),
        name="api-snapshot-artifact",
    ),
]
