from __future__ import annotations

from django.contrib import admin

from . import models


class StepInline(admin.TabularInline):
    model = models.ScenarioStep
    extra = 0


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 1
    autocomplete_fields = ("user",)


@admin.register(models.Team)
class TeamAdmin(admin.ModelAdmin):
    """Operators create teams, add members and allow locustfiles here."""

    list_display = ("name", "allow_locustfiles", "max_users", "max_run_seconds", "max_concurrent_runs", "created_at")
    list_filter = ("allow_locustfiles",)
    search_fields = ("name",)
    inlines = [MembershipInline]


class DataSourceInline(admin.TabularInline):
    model = models.ScenarioDataSource
    extra = 0
    fields = ("order", "kind", "mode", "filename", "columns")
    readonly_fields = ("columns",)


@admin.register(models.Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "base_url", "auth_type", "verify_tls")
    list_filter = ("team",)
    search_fields = ("name", "base_url")


@admin.register(models.Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "kind", "mode", "user_class", "think_time_min", "think_time_max")
    list_filter = ("team",)
    inlines = [StepInline, DataSourceInline]


@admin.register(models.LoadProfile)
class LoadProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "kind")
    list_filter = ("team",)


@admin.register(models.TestPlan)
class TestPlanAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "target", "scenario", "profile")
    list_filter = ("team",)


@admin.register(models.Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "plan_name", "status", "created_at", "total_requests", "p95_ms")
    list_filter = ("status", "team")
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
