from __future__ import annotations

from django.urls import path

from runs.views import (
    api_tokens,
    audit,
    compare,
    control,
    dashboard,
    exports,
    metric_sources,
    notifications,
    plans,
    profiles,
    quick_test,
    run_metrics,
    runs,
    scenario_import,
    scenarios,
    shares,
    target_verify,
    targets,
    teams,
)

urlpatterns = [
    path("", dashboard.dashboard, name="runs-dashboard"),
    path("quick-test/", quick_test.quick_test, name="runs-quick-test"),
    # Runs
    path("runs/", runs.run_list, name="runs-list"),
    path("runs/compare/", compare.runs_compare, name="runs-compare"),
    path("runs/compare/window.json", compare.runs_compare_window, name="runs-compare-window"),
    path("runs/<int:pk>/", runs.run_detail, name="runs-detail"),
    path("runs/<int:pk>/live.json", runs.run_live, name="runs-live"),
    path("runs/<int:pk>/tables/", runs.run_tables, name="runs-tables"),
    path("runs/<int:pk>/metrics.json", run_metrics.run_metrics_live, name="runs-metrics-live"),
    path("runs/<int:pk>/cancel/", runs.run_cancel_view, name="runs-cancel"),
    path("runs/<int:pk>/control/", control.run_control, name="runs-control"),
    path("runs/<int:pk>/stop-early/", control.run_stop_early_view, name="runs-stop-early"),
    path("runs/<int:pk>/baseline/", compare.run_baseline, name="runs-baseline"),
    path("runs/<int:pk>/export.csv", exports.run_export_csv, name="runs-export-csv"),
    path("runs/<int:pk>/export.json", exports.run_export_json, name="runs-export-json"),
    path("runs/<int:pk>/report.html", exports.run_report, name="runs-report"),
    path("runs/<int:pk>/annotate/", runs.run_annotate, name="runs-annotate"),
    path("runs/<int:pk>/pin/", runs.run_pin, name="runs-pin"),
    path("runs/<int:pk>/share/", shares.run_share, name="runs-share"),
    path("runs/compare/share/", shares.compare_share, name="runs-compare-share"),
    # Share links (no login; the token is the only key)
    path("s/<str:token>/", shares.share_page, name="share-page"),
    path("s/<str:token>/live.json", shares.share_live, name="share-live"),
    path("s/<str:token>/tables/", shares.share_tables, name="share-tables"),
    path("s/<str:token>/window.json", shares.share_window, name="share-window"),
    path("s/<str:token>/export.csv", shares.share_export_csv, name="share-export-csv"),
    path("s/<str:token>/export.json", shares.share_export_json, name="share-export-json"),
    path("s/<str:token>/report.html", shares.share_report, name="share-report"),
    # Test plans
    path("plans/", plans.plan_list, name="runs-plan-list"),
    path("plans/new/", plans.plan_create, name="runs-plan-create"),
    path("plans/<int:pk>/", plans.plan_detail, name="runs-plan-detail"),
    path("plans/<int:pk>/trend/", plans.plan_trend, name="runs-plan-trend"),
    path("plans/<int:pk>/edit/", plans.plan_edit, name="runs-plan-edit"),
    path("plans/<int:pk>/delete/", plans.plan_delete, name="runs-plan-delete"),
    path("plans/<int:pk>/start/", plans.plan_start, name="runs-plan-start"),
    path("plans/<int:pk>/schedule/", plans.plan_schedule, name="runs-plan-schedule"),
    # Targets
    path("targets/", targets.target_list, name="runs-target-list"),
    path("targets/new/", targets.target_create, name="runs-target-create"),
    path("targets/<int:pk>/", targets.target_edit, name="runs-target-edit"),
    path("targets/<int:pk>/delete/", targets.target_delete, name="runs-target-delete"),
    path(
        "targets/<int:pk>/metrics/new/", metric_sources.metric_source_create, name="runs-metric-source-create"
    ),
    path(
        "targets/<int:pk>/metrics/<int:source_pk>/",
        metric_sources.metric_source_edit,
        name="runs-metric-source-edit",
    ),
    path(
        "targets/<int:pk>/metrics/<int:source_pk>/delete/",
        metric_sources.metric_source_delete,
        name="runs-metric-source-delete",
    ),
    path("targets/<int:pk>/verify/", target_verify.target_verify, name="runs-target-verify"),
    # Scenarios
    path("scenarios/", scenarios.scenario_list, name="runs-scenario-list"),
    path("scenarios/new/", scenarios.scenario_create, name="runs-scenario-create"),
    path("scenarios/import/", scenario_import.scenario_import, name="runs-scenario-import"),
    path("scenarios/<int:pk>/", scenarios.scenario_edit, name="runs-scenario-edit"),
    path("scenarios/<int:pk>/delete/", scenarios.scenario_delete, name="runs-scenario-delete"),
    # Personal API tokens
    path("account/api-tokens/", api_tokens.api_tokens, name="api-tokens"),
    path("account/api-tokens/<int:pk>/revoke/", api_tokens.api_token_revoke_view, name="api-token-revoke"),
    # Teams
    path("teams/", teams.team_list, name="teams-list"),
    path("teams/new/", teams.team_create, name="teams-create"),
    path("teams/switch/", teams.team_switch, name="teams-switch"),
    path("teams/<int:pk>/", teams.team_detail, name="teams-detail"),
    path("teams/<int:pk>/members/<int:member>/", teams.team_member, name="teams-member"),
    path("teams/<int:pk>/shares/", shares.team_shares, name="teams-shares"),
    path("teams/<int:pk>/audit/", audit.team_audit, name="teams-audit"),
    path("teams/<int:pk>/hooks/new/", notifications.hook_create, name="teams-hook-create"),
    path("teams/<int:pk>/hooks/<int:hook>/", notifications.hook_edit, name="teams-hook-edit"),
    path("teams/<int:pk>/hooks/<int:hook>/test/", notifications.hook_test, name="teams-hook-test"),
    path(
        "teams/<int:pk>/hooks/<int:hook>/secret/", notifications.hook_rotate_secret, name="teams-hook-secret"
    ),
    path("teams/<int:pk>/hooks/<int:hook>/delete/", notifications.hook_delete, name="teams-hook-delete"),
    path("teams/<int:pk>/shares/<int:share_pk>/revoke/", shares.team_share_revoke, name="teams-share-revoke"),
    # Load profiles
    path("profiles/", profiles.profile_list, name="runs-profile-list"),
    path("profiles/new/", profiles.profile_create, name="runs-profile-create"),
    path("profiles/preview.json", profiles.profile_preview, name="runs-profile-preview"),
    path("profiles/<int:pk>/", profiles.profile_edit, name="runs-profile-edit"),
    path("profiles/<int:pk>/delete/", profiles.profile_delete, name="runs-profile-delete"),
]
