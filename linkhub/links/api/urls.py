from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.register("links", views.LinkViewSet, basename="api-link")
router.register("tags", views.TagViewSet, basename="api-tag")
router.register("imports", views.ImportViewSet, basename="api-import")

urlpatterns = [
    path("export/", views.ExportView.as_view(), name="api-export"),
    *router.urls,
]
