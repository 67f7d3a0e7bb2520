"""Django admin (superusers only): integrations and audit events are read only here.

Integration rows come from the registry, and switching or configuring one belongs to
the Manage page, where it is audited; audit events are never edited or deleted.
"""

from django.contrib import admin

from .models import AuditEvent, Integration, SyncSetting


class ReadOnly:
    """Django admin shows these rows but never changes them: the portal's own pages do, audited."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    pass


class SyncSettingInline(ReadOnly, admin.TabularInline):
    model = SyncSetting
    fields = ["data_type", "fetch_on_first_link", "frequency"]
    readonly_fields = fields
    extra = 0


@admin.register(Integration)
class IntegrationAdmin(ReadOnlyAdmin):
    list_display = ["name", "key", "category", "enabled", "updated_at", "updated_by"]
    list_filter = ["category", "enabled"]
    search_fields = ["name", "key"]
    inlines = [SyncSettingInline]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_name", "integration", "action", "target"]
    list_filter = ["action", "integration"]
    search_fields = ["actor_name", "target"]
    date_hierarchy = "created_at"
