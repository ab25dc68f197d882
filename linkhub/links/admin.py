from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.db import models
from taggit.models import Tag as TaggitTag

from linkhub.audit import change_source

from . import services
from .models import ImportJob, Link, Tag, TaggedLink


class TaggedLinkInline(admin.TabularInline):
    """Read-only: a change of tags is a decision, made (and audited) through the review queue,
    the UI or the API, never by editing rows here."""

    model = TaggedLink
    extra = 0
    fields = ("tag", "origin", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ("display_title", "owner", "domain", "is_read", "is_private", "created_at")
    list_filter = ("is_read", "is_private", "created_at", ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title", "url", "description", "owner__username")
    readonly_fields = ("domain", "created_at", "updated_at", "search_vector")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    inlines = [TaggedLinkInline]
    # A URL typed without a scheme is taken as https (Django 6's default; no deprecation warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    date_hierarchy = "created_at"
    show_full_result_count = False

    # Deleting links takes their tags off through the service, which audits each removal.
    def delete_model(self, request, obj):
        services.links_delete(link_ids=[obj.pk], actor=request.user, source="admin")

    def delete_queryset(self, request, queryset):
        services.links_delete(
            link_ids=list(queryset.values_list("pk", flat=True)), actor=request.user, source="admin"
        )


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "created_at")
    list_filter = (("owner", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)

    # Deleting a tag takes it off its links: through the service, which audits each removal.
    def delete_model(self, request, obj):
        with change_source("admin"):
            services.tag_delete(tag=obj)

    def delete_queryset(self, request, queryset):
        with change_source("admin"):
            for tag in queryset:
                services.tag_delete(tag=tag)


@admin.register(TaggedLink)
class TaggedLinkAdmin(admin.ModelAdmin):
    """No adding or editing (tag changes are decisions: see the review queue); a deletion here
    goes through the audited service."""

    list_display = ("content_object", "tag", "origin", "created_at")
    list_filter = ("origin", "created_at")
    search_fields = ("tag__name", "content_object__url", "content_object__owner__username")
    list_select_related = ("content_object", "tag")
    raw_id_fields = ("content_object", "tag")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # Taking a tag off a link here is allowed, and audited like every other path.
    def delete_model(self, request, obj):
        services.tags_remove(rows=TaggedLink.objects.filter(pk=obj.pk), actor=request.user, source="admin")

    def delete_queryset(self, request, queryset):
        services.tags_remove(
            rows=TaggedLink.objects.filter(pk__in=list(queryset.values_list("pk", flat=True))),
            actor=request.user,
            source="admin",
        )


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
