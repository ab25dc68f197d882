from django.contrib import admin

from .models import ApiToken, ConsentChange, Profile


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
