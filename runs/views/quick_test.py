from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from runs import access
from runs.forms.quick_test import QuickTestForm
from runs.services.quick_test import QuickTestError, quick_test_start
from runs.views.dashboard import dashboard_page


@require_POST
@access.team_view(access.EDITOR)
def quick_test(request: access.TeamRequest) -> HttpResponse:
    """The dashboard's one-form test: parts made behind the scenes, the run started, or
    nothing made and the form again with the reason."""
    form = QuickTestForm(request.POST)
    if not form.is_valid():
        return dashboard_page(request, quick_form=form)
    try:
        made = quick_test_start(team=request.team, user=request.user, spec=form.spec())
    except QuickTestError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return dashboard_page(request, quick_form=form)
    messages.success(
        request,
        format_html(
            "Quick test run #{} is under way. Its parts are saved so you can change and rerun it: "
            'target <a href="{}">{}</a>{}, scenario <a href="{}">{}</a>, load profile <a href="{}">{}</a> '
            'and test plan <a href="{}">{}</a>.',
            made.run.pk,
            made.target.get_absolute_url(),
            made.target.name,
            " (already there)" if made.target_reused else "",
            made.scenario.get_absolute_url(),
            made.scenario.name,
            made.profile.get_absolute_url(),
            made.profile.name,
            made.plan.get_absolute_url(),
            made.plan.name,
        ),
    )
    return redirect(made.run)
