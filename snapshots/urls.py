from django.urls import path

from . import views

app_name = "snapshots"

urlpatterns = [
    path("links/<int:pk>/snapshot/", views.snapshot_request, name="request"),
    path("links/<int:pk>/snapshots/upload/", views.snapshot_upload, name="upload"),
    path("links/<int:pk>/snapshots/schedule/", views.snapshot_schedule, name="schedule"),
    path("links/<int:pk>/snapshots/diff/", views.snapshot_diff, name="diff"),
    path("snapshots/<int:pk>/", views.snapshot_detail, name="detail"),
    path("snapshots/<int:pk>/retry/", views.snapshot_retry, name="retry"),
    path("snapshots/<int:pk>/artifacts/<str:name>", views.snapshot_artifact, name="artifact"),
]
