from django.urls import path

from . import views

app_name = "links"

urlpatterns = [
    path("links/", views.link_list, name="list"),
    path("links/new/", views.link_create, name="create"),
    path("links/bulk/", views.links_bulk, name="bulk"),
    path("links/<id:pk>/", views.link_detail, name="detail"),
    path("links/<id:pk>/edit/", views.link_edit, name="edit"),
    path("links/<id:pk>/delete/", views.link_delete, name="delete"),
    path("links/<id:pk>/read/", views.link_toggle_read, name="toggle_read"),
    path("tags/", views.tag_list, name="tags"),
    path("tags/merge/", views.tag_merge, name="tag_merge"),
    path("tags/<id:pk>/rename/", views.tag_rename, name="tag_rename"),
    path("tags/<id:pk>/delete/", views.tag_delete, name="tag_delete"),
    path("import/", views.import_page, name="import"),
    path("export/", views.export, name="export"),
]
