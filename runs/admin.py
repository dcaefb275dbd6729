from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from runs.services import audit
from runs.services.api_tokens import api_token_create, api_token_revoke

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

    list_display = (
        "name",
        "allow_locustfiles",
        "max_users",
        "max_run_seconds",
        "max_concurrent_runs",
        "created_at",
    )
    list_filter = ("allow_locustfiles",)
    search_fields = ("name",)
    inlines = [MembershipInline]

    # Caps, the locustfile permission and members changed here go to the audit trail.
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = audit.team_settings(models.Team.objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        audit.audit_team_settings(team=obj, before=before)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not models.Membership:
            super().save_formset(request, form, formset, change)
            return
        roles = dict(models.Membership.objects.filter(team=form.instance).values_list("pk", "role"))
        super().save_formset(request, form, formset, change)
        for membership in formset.new_objects:
            audit.audit_record(
                action=audit.Action.MEMBER_ADD,
                obj=membership,
                details={"user": membership.user.get_username(), "role": membership.role},
            )
        for membership, _fields in formset.changed_objects:
            if roles.get(membership.pk) != membership.role:
                details = {"from": roles.get(membership.pk), "to": membership.role}
                audit.audit_record(action=audit.Action.MEMBER_ROLE, obj=membership, details=details)
        for membership in formset.deleted_objects:
            audit.audit_record(
                action=audit.Action.MEMBER_REMOVE,
                obj=membership,
                team_id=form.instance.pk,
                details={"role": roles.get(membership.pk)},
            )


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
    """The allowlist: hosts and ranges runs may load without proof of ownership (runs.core.safety)."""

    list_display = ("value", "note", "created_at")
    search_fields = ("value", "note")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = models.AllowedNetwork.objects.filter(pk=obj.pk).values_list("value", flat=True).first() or ""
        super().save_model(request, obj, form, change)
        action = audit.Action.ALLOWLIST_CHANGE if change else audit.Action.ALLOWLIST_ADD
        audit.audit_allowlist(entry=obj, action=action, before=before)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit.audit_allowlist(entry=obj, action=audit.Action.ALLOWLIST_DELETE)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[models.AllowedNetwork]) -> None:
        for entry in queryset:
            audit.audit_allowlist(entry=entry, action=audit.Action.ALLOWLIST_DELETE)
        super().delete_queryset(request, queryset)


@admin.register(models.TargetVerification)
class TargetVerificationAdmin(admin.ModelAdmin):
    list_display = ("target", "host", "verified_at", "last_checked_at")
    readonly_fields = ("token", "verified_at", "last_checked_at", "last_error")


class ApiTokenAddForm(forms.ModelForm):
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, label="Expires after (days)"
    )

    class Meta:
        model = models.ApiToken
        fields = ("user", "name")


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Operators make tokens for a user (shown once, in the confirmation message), list and
    revoke them (the "Revoke" action, which writes the audit entry). Only the token's hash is
    stored. Expiry and revocation are read-only on the change form: an edit there would revoke,
    or bring a revoked token back, without an audit entry."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = (
        "user",
        "prefix",
        "token_hash",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    autocomplete_fields = ("user",)
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("user", "name", "expires_in_days")
        return ("user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        row, token = api_token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            expires_in_days=form.cleaned_data.get("expires_in_days"),
        )
        obj.pk = row.pk
        obj.__dict__.update({k: v for k, v in row.__dict__.items() if not k.startswith("_")})
        messages.warning(request, f"The new token (shown only now; give it to {row.user}): {token}")

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[models.ApiToken]) -> None:
        for token in queryset.filter(revoked_at__isnull=True).select_related("user"):
            api_token_revoke(token=token)  # one audit entry each


@admin.register(models.AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail, read-only: entries are written by the services and purged after
    SCALETEST_AUDIT_RETENTION_DAYS, never edited."""

    list_display = (
        "created_at",
        "action",
        "actor_name",
        "address",
        "via",
        "object_type",
        "object_label",
        "team",
    )
    list_filter = ("action", "via", "team")
    search_fields = ("actor_name", "object_label", "address")
    date_hierarchy = "created_at"
    list_select_related = ("team",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    """The delivery log of every team, read-only: team admins manage hooks on their team page."""

    list_display = (
        "id",
        "team",
        "channel",
        "event",
        "run",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    )
    list_filter = ("status", "event")
    search_fields = ("channel__name", "team__name")
    list_select_related = ("team", "channel", "run")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
