from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from .models import ApiToken, ConsentChange, Profile
from .signals import user_admin_panels

User = get_user_model()


class LinkHubUserAdmin(UserAdmin):
    """Django's user admin, with what the apps above hold about the user (their training
    consent, and the model versions trained with their data): ``signals.user_admin_panels``."""

    readonly_fields = ("last_login", "date_joined", "training_consent", "held_by_other_apps")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Data and models", {"fields": ("training_consent", "held_by_other_apps")}),
    )

    @admin.display(description="training consent")
    def training_consent(self, obj) -> str:
        profile = Profile.objects.filter(user=obj).first()
        return profile.get_training_consent_display() if profile else "—"

    @admin.display(description="what uses their data")
    def held_by_other_apps(self, obj) -> SafeString | str:
        if obj is None or obj.pk is None:
            return "—"
        panels = [answer for _, answer in user_admin_panels.send(sender=User, user=obj) if answer]
        if not panels:
            return "—"
        return format_html_join("", "<div><strong>{}</strong><div>{}</div></div>", panels)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, LinkHubUserAdmin)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at", "created_at")
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("key_hash", "prefix", "created_at", "last_used_at")
    list_select_related = ("user",)

    def has_add_permission(self, request):  # keys are made by users, and shown to them once
        return False


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "training_consent", "consent_changed_at")
    list_filter = ("training_consent",)
    search_fields = ("user__username", "user__email")
    # Consent is the user's own decision: the admin shows it but does not change it.
    readonly_fields = ("user", "training_consent", "consent_changed_at")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):  # would turn consent off unrecorded
        return False


@admin.register(ConsentChange)
class ConsentChangeAdmin(admin.ModelAdmin):
    list_display = ("user", "from_consent", "to_consent", "source", "actor", "created_at")
    list_filter = ("to_consent", "source", "created_at")
    search_fields = ("user__username",)
    list_select_related = ("user", "actor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
