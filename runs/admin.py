from __future__ import annotations

from django.contrib import admin

from . import models


class StepInline(admin.TabularInline):
    model = models.ScenarioStep
    extra = 0


class DataSourceInline(admin.TabularInline):
    model = models.ScenarioDataSource
    extra = 0
    fields = ("order", "kind", "mode", "filename", "columns")
    readonly_fields = ("columns",)


@admin.register(models.Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ("name", "base_url", "auth_type", "verify_tls")
    search_fields = ("name", "base_url")


@admin.register(models.Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "mode", "user_class", "think_time_min", "think_time_max")
    inlines = [StepInline, DataSourceInline]


@admin.register(models.LoadProfile)
class LoadProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "kind")


@admin.register(models.TestPlan)
class TestPlanAdmin(admin.ModelAdmin):
    list_display = ("name", "target", "scenario", "profile")


@admin.register(models.Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "plan_name", "status", "created_at", "total_requests", "p95_ms")
    list_filter = ("status",)
    readonly_fields = ("snapshot",)


@admin.register(models.AllowedNetwork)
class AllowedNetworkAdmin(admin.ModelAdmin):
    """The allowlist: hosts and ranges runs may load without proof of ownership (runs.safety)."""

    list_display = ("value", "note", "created_at")
    search_fields = ("value", "note")


@admin.register(models.TargetVerification)
class TargetVerificationAdmin(admin.ModelAdmin):
    list_display = ("target", "host", "verified_at", "last_checked_at")
    readonly_fields = ("token", "verified_at", "last_checked_at", "last_error")
