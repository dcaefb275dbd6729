from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from runs import access
from runs.core.cron import CronError
from runs.figures import analysis as figures_analysis
from runs.figures import runs as figures
from runs.forms.plans import PlanScheduleForm, TestPlanForm
from runs.forms.runs import RunAnnotationForm
from runs.models import TestPlan
from runs.selectors import analysis as selectors_analysis
from runs.selectors import catalog as selectors_catalog
from runs.selectors import runs as selectors
from runs.selectors import trend as selectors_trend
from runs.services import catalog
from runs.services.generators import generators_capacity
from runs.services.runs import RunError, run_create
from runs.services.schedules import plan_set_schedule, schedule_next_times
from runs.views.onboarding import saved_message


@require_GET
@access.team_view()
def plan_list(request: access.TeamRequest) -> HttpResponse:
    return render(request, "runs/plan_list.html", {"plans": selectors_catalog.plan_list(team=request.team)})


@require_GET
@access.team_view()
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = access.object_for(
        request, TestPlan.objects.select_related("target", "scenario", "profile", "baseline_run"), pk
    )
    preview = selectors_catalog.profile_preview_of(profile=plan.profile)
    fig = (
        figures.profile_figure(preview["x"], preview["y"], subject=plan.profile.name, unit=preview["unit"])
        if preview
        else None
    )
    membership = access.membership_in(request, plan.team_id)
    try:
        next_times = schedule_next_times(expression=plan.schedule, count=3) if plan.schedule else []
    except CronError:
        next_times = []
    context = {
        "plan": plan,
        "can_edit": bool(membership and membership.can(access.EDITOR)),
        "start_form": RunAnnotationForm(),
        "schedule_form": PlanScheduleForm(initial={"schedule": plan.schedule}),
        "next_times": next_times,
        "time_zone": settings.TIME_ZONE,
        "steps": selectors_catalog.scenario_step_rows(scenario=plan.scenario),
        "runs": selectors.runs_of_plan(plan=plan),
        "preview": preview,
        "fig": fig,
        "compare_max": selectors_analysis.MAX_COMPARE_RUNS,
        "thresholds": selectors_catalog.plan_threshold_labels(plan=plan),
        # Asked only for a distributed plan: the answer takes up to a second when not cached.
        "generator_capacity": generators_capacity() if plan.generators > 1 else None,
    }
    return render(request, "runs/plan_detail.html", context)


@require_http_methods(["GET", "POST"])
@access.team_view(access.EDITOR)
def plan_create(request: access.TeamRequest) -> HttpResponse:
    form = TestPlanForm(request.POST or None, team=request.team)
    if request.method == "POST" and form.is_valid():
        try:
            plan = catalog.plan_create(team=request.team, data=form.cleaned_data, user=request.user)
        except catalog.CatalogError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, saved_message(team=plan.team, text=f"Created test plan “{plan}”.", saved="plan")
            )
            return redirect(plan)
    context = {"form": form, "plan": None, "generator_capacity": generators_capacity()}
    return render(request, "runs/plan_form.html", context)


@require_http_methods(["GET", "POST"])
@access.team_view()
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    plan = access.object_for(request, TestPlan.objects.all(), pk, role=access.EDITOR)
    form = TestPlanForm(request.POST or None, instance=plan, team=plan.team)
    if request.method == "POST" and form.is_valid():
        try:
            catalog.plan_update(plan=plan, data=form.cleaned_data)
        except catalog.CatalogError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, saved_message(team=plan.team, text=f"Saved test plan “{plan}”.", saved="plan")
            )
            return redirect(plan)
    context = {"form": form, "plan": plan, "generator_capacity": generators_capacity()}
    return render(request, "runs/plan_form.html", context)


@require_http_methods(["GET", "POST"])
@access.team_view()
def plan_delete(request: HttpRequest, pk: int) -> HttpResponse:
    plan = access.object_for(request, TestPlan.objects.all(), pk, role=access.EDITOR)
    if request.method == "POST":
        catalog.plan_delete(plan=plan)
        messages.success(request, f"Deleted test plan “{plan}”; its runs are kept.")
        return redirect("runs-plan-list")
    context = {"obj": plan, "what": "test plan", "used_by": [], "back_url": plan.get_absolute_url()}
    return render(request, "runs/confirm_delete.html", context)


@require_POST
@access.team_view()
def plan_start(request: HttpRequest, pk: int) -> HttpResponse:
    plan = access.object_for(
        request, TestPlan.objects.select_related("target", "scenario", "profile"), pk, role=access.EDITOR
    )
    form = RunAnnotationForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "Not started: " + " ".join(str(e) for errors in form.errors.values() for e in errors)
        )
        return redirect(plan)
    try:
        run = run_create(plan=plan, user=request.user, annotations=form.cleaned_data["annotations"])
    except RunError as exc:
        messages.error(request, str(exc))
        return redirect(plan)
    # The page removes this once the run has left the queue (static/js/charts.js).
    messages.success(request, f"Run #{run.pk} of “{plan}” is queued.", extra_tags="follows-run")
    return redirect(run)


@require_POST
@access.team_view()
def plan_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    """Editors set or clear the plan's cron schedule; an invalid expression changes nothing."""
    plan = access.object_for(request, TestPlan.objects.all(), pk, role=access.EDITOR)
    form = PlanScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            "Schedule not saved: "
            + " ".join(str(e) for e in form.errors.get("schedule", ["invalid input."])),
        )
        return redirect(plan)
    plan = plan_set_schedule(plan=plan, expression=form.cleaned_data["schedule"])
    if plan.schedule:
        messages.success(
            request, f"“{plan}” now runs on the schedule “{plan.schedule}” ({settings.TIME_ZONE})."
        )
    else:
        messages.success(request, f"“{plan}” no longer runs on a schedule.")
    return redirect(plan)


TREND_TABLE_ROWS = 50


@require_GET
@access.team_view()
def plan_trend(request: HttpRequest, pk: int) -> HttpResponse:
    """Every run of the plan on a time axis; a click opens a run, ticking two compares them."""
    plan = access.object_for(request, TestPlan.objects.all(), pk)
    points = selectors_trend.plan_trend(plan=plan)
    context = {
        "plan": plan,
        "points": points,
        # The charts show every run; the table, for ticking runs to compare, the latest ones
        # (rendering 500 rows of it took four times the rest of the page).
        "listed": points[::-1][:TREND_TABLE_ROWS],
        "figs": figures_analysis.plan_trend_figures(points) if points else None,
        "compare_max": selectors_analysis.MAX_COMPARE_RUNS,
    }
    return render(request, "runs/plan_trend.html", context)
