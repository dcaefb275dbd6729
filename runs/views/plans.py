from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from runs import figures, selectors, selectors_analysis
from runs.forms import TestPlanForm
from runs.models import TestPlan
from runs.services import catalog
from runs.services.runs import RunError, run_create


@require_GET
@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    return render(request, "runs/plan_list.html", {"plans": selectors.plan_list()})


@require_GET
@login_required
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(
        TestPlan.objects.select_related("target", "scenario", "profile", "baseline_run"), pk=pk
    )
    preview = selectors.profile_preview_of(profile=plan.profile)
    fig = figures.profile_figure(preview["x"], preview["y"], subject=plan.profile.name, unit=preview["unit"]) if preview else None
    context = {
        "plan": plan,
        "steps": selectors.scenario_step_rows(scenario=plan.scenario),
        "runs": selectors.runs_of_plan(plan=plan),
        "preview": preview,
        "fig": fig,
        "compare_max": selectors_analysis.MAX_COMPARE_RUNS,
        "thresholds": selectors.plan_threshold_labels(plan=plan),
    }
    return render(request, "runs/plan_detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def plan_create(request: HttpRequest) -> HttpResponse:
    form = TestPlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        plan = catalog.plan_create(data=form.cleaned_data, user=request.user)
        messages.success(request, f"Created test plan “{plan}”.")
        return redirect(plan)
    return render(request, "runs/plan_form.html", {"form": form, "plan": None})


@require_http_methods(["GET", "POST"])
@login_required
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(TestPlan, pk=pk)
    form = TestPlanForm(request.POST or None, instance=plan)
    if request.method == "POST" and form.is_valid():
        catalog.plan_update(plan=plan, data=form.cleaned_data)
        messages.success(request, f"Saved test plan “{plan}”.")
        return redirect(plan)
    return render(request, "runs/plan_form.html", {"form": form, "plan": plan})


@require_http_methods(["GET", "POST"])
@login_required
def plan_delete(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(TestPlan, pk=pk)
    if request.method == "POST":
        catalog.plan_delete(plan=plan)
        messages.success(request, f"Deleted test plan “{plan}”; its runs are kept.")
        return redirect("runs-plan-list")
    context = {"obj": plan, "what": "test plan", "used_by": [], "back_url": plan.get_absolute_url()}
    return render(request, "runs/confirm_delete.html", context)


@require_POST
@login_required
def plan_start(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(TestPlan.objects.select_related("target", "scenario", "profile"), pk=pk)
    try:
        run = run_create(plan=plan, user=request.user)
    except RunError as exc:
        messages.error(request, str(exc))
        return redirect(plan)
    messages.success(request, f"Run #{run.pk} of “{plan}” is queued.")
    return redirect(run)
