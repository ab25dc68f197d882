from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from taggit.models import Tag as TaggitTag

from .models import ImportJob, Link, Tag, TaggedLink


class TaggedLinkInline(admin.TabularInline):
    model = TaggedLink
    extra = 0
    autocomplete_fields = ("tag",)
    fields = ("tag", "origin", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ("display_title", "owner", "domain", "is_read", "is_private", "created_at")
    list_filter = ("is_read", "is_private", "created_at", ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title", "url", "description", "owner__username")
    readonly_fields = ("domain", "created_at", "updated_at", "search_vector")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    inlines = [TaggedLinkInline]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "created_at")
    list_filter = (("owner", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)


@admin.register(TaggedLink)
class TaggedLinkAdmin(admin.ModelAdmin):
    list_display = ("content_object", "tag", "origin", "created_at")
    list_filter = ("origin", "created_at")
    search_fields = ("tag__name", "content_object__url", "content_object__owner__username")
    list_select_related = ("content_object", "tag")
    raw_id_fields = ("content_object", "tag")


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "source_name",
        "status",
        "done",
        "total",
        "created",
        "failed",
        "created_at",
    )
    list_filter = ("status", "created_at")
    search_fields = ("owner__username", "source_name")
    list_select_related = ("owner",)
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    def has_add_permission(self, request):  # imports start from an upload, not the admin
        return False


# taggit's own Tag model is not used (tags here are per user); keep it out of the admin.
try:
    admin.site.unregister(TaggitTag)
except NotRegistered:
    pass
