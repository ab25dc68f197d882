"""The personal models serving now, one row a user (read-only: they change by training, by the
user's decisions and consent, and by the per-user gate and rollback)."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models import PersonalModelState
from .base import ReadOnlyAdmin, is_staff


@admin.register(PersonalModelState)
class PersonalModelStateAdmin(ReadOnlyAdmin):
    view_roles = (is_staff,)
    list_display = ("user", "version_link", "updates", "revision", "size", "updated_at")
    search_fields = ("user__username",)
    list_select_related = ("user", "version")
    exclude = ("artifact",)
    readonly_fields = ("user", "version", "updates", "revision", "size", "last_decision_id", "updated_at")

    @admin.display(description="version", ordering="version__number")
    def version_link(self, obj: PersonalModelState) -> SafeString:
        url = reverse("admin:mlops_modelversion_change", args=[obj.version.pk])
        return format_html('<a href="{}">{}</a>', url, obj.version.label)

    @admin.display(description="size", ordering="artifact_size")
    def size(self, obj: PersonalModelState) -> str:
        return filesizeformat(obj.artifact_size)
