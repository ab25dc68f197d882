import json

from django.contrib import admin
from django.utils.html import format_html

from .models import Artifact, Snapshot, SnapshotArtifact, SnapshotSchedule


class SnapshotArtifactInline(admin.TabularInline):
    model = SnapshotArtifact
    extra = 0
    fields = ("name", "artifact")
    readonly_fields = ("name", "artifact")
    can_delete = False


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "link",
        "version",
        "status",
        "failure_reason",
        "suspect",
        "attempts",
        "requested_at",
        "finished_at",
    )
    list_filter = ("status", "failure_reason", "source", "requested_at")
    search_fields = ("url", "final_url", "title", "link__owner__username", "failure_detail")
    list_select_related = ("link",)
    raw_id_fields = ("link", "requested_by")
    readonly_fields = [f.name for f in Snapshot._meta.fields] + ["provenance_pretty"]
    exclude = ("provenance",)
    inlines = [SnapshotArtifactInline]
    date_hierarchy = "requested_at"

    @admin.display(boolean=True)
    def suspect(self, obj: Snapshot) -> bool:
        return bool(obj.suspect_reason)

    @admin.display(description="provenance")
    def provenance_pretty(self, obj: Snapshot) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.provenance, indent=2, sort_keys=True))

    def has_add_permission(self, request):
        return False


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ("sha256", "content_type", "size", "created_at")
    list_filter = ("content_type",)
    search_fields = ("sha256",)
    readonly_fields = ("sha256", "size", "content_type", "path", "created_at")

    def has_add_permission(self, request):
        return False


@admin.register(SnapshotSchedule)
class SnapshotScheduleAdmin(admin.ModelAdmin):
    list_display = ("link", "every_days", "next_at")
    raw_id_fields = ("link",)
    search_fields = ("link__url", "link__owner__username")
