from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

# Path converters, not regexes: each viewset's ``lookup_value_converter`` is ``id`` (see
# linkhub/converters.py), so a malformed id never reaches a view. No ``.json`` suffix routes.
router = DefaultRouter(trailing_slash=True, use_regex_path=False)
router.include_format_suffixes = False
router.register("links", views.LinkViewSet, basename="api-link")
router.register("tags", views.TagViewSet, basename="api-tag")
router.register("imports", views.ImportViewSet, basename="api-import")

urlpatterns = [
    path("export/", views.ExportView.as_view(), name="api-export"),
    *router.urls,
]
