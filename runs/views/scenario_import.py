"""Import a scenario: paste or upload a cURL command, a HAR file or an OpenAPI document, review
the steps (secrets flagged and left out unless kept), save. The saved scenario is validated by
the scenario page's own form and step formset, then saved by the same service."""

from __future__ import annotations

import json
from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from runs import access
from runs.core.scenario_import import ImportedStep
from runs.forms.scenario_import import ScenarioImportForm, ScenarioImportSaveForm
from runs.forms.scenarios import ScenarioForm, scenario_variables_check, source_formset, step_formset
from runs.models import Scenario
from runs.services import catalog
from runs.services import scenario_import as importer


def _secret_keys(steps: list[ImportedStep]) -> list[str]:
    return [f"{i}:{name}" for i, step in enumerate(steps) for name in step.secret_names]


def _preview(
    request: HttpRequest,
    *,
    steps: list[ImportedStep],
    source_format: str,
    base_url: str,
    warnings: list[str],
    form: ScenarioImportSaveForm,
) -> HttpResponse:
    posted = cast(QueryDict, form.data)  # a bound form here is always bound to request.POST
    rows = [
        {
            "index": i,
            "step": step,
            "query_json": json.dumps(step.query, ensure_ascii=False) if step.query else "",
            "headers": [(name, value, name in step.secret_names) for name, value in step.headers.items()],
            "secret_query": [n for n in step.secret_names if n.startswith("?")],
            "included": not form.is_bound or str(i) in posted.getlist("include"),
            "kept": set(posted.getlist("keep_secret")) if form.is_bound else set(),
        }
        for i, step in enumerate(steps)
    ]
    context = {
        "rows": rows,
        "save_form": form,
        "steps_json": json.dumps([s.to_dict() for s in steps], ensure_ascii=False),
        "source_format": source_format,
        "base_url": base_url,
        "warnings": warnings,
        "has_secrets": any(step.secret_names for step in steps),
    }
    return render(request, "runs/scenario_import_preview.html", context)


@require_http_methods(["GET", "POST"])
@access.team_view(access.EDITOR)
def scenario_import(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and "steps_json" in request.POST:
        return _save(request)
    form = ScenarioImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = importer.scenario_import_parse(
                text=data["text"],
                format=data["format"],
                base_url=data["base_url"],
                include_static=data["include_static"],
            )
        except importer.ScenarioImportError as exc:
            form.add_error(None, str(exc))
        else:
            save_form = ScenarioImportSaveForm(
                initial={
                    "name": importer.default_name(result),
                    "mode": Scenario.Mode.SEQUENCE if result.format == "har" else Scenario.Mode.WEIGHTED,
                }
            )
            return _preview(
                request,
                steps=result.steps,
                source_format=result.format,
                base_url=result.base_url,
                warnings=result.warnings,
                form=save_form,
            )
    return render(request, "runs/scenario_import.html", {"form": form})


def _step_errors(steps_formset: Any, chosen: list[dict[str, Any]]) -> list[str]:
    errors = [str(e) for e in steps_formset.non_form_errors()]
    for i, form in enumerate(steps_formset.forms):
        for field, messages_ in form.errors.items():
            label = chosen[i]["name"] if i < len(chosen) else f"step {i + 1}"
            errors += [f"Step “{label}”, {field}: {m}" for m in messages_]
    return errors


def _save(request: HttpRequest) -> HttpResponse:
    try:
        steps = importer.imported_steps_load(request.POST.get("steps_json", ""))
    except importer.ScenarioImportError as exc:
        messages.error(request, str(exc))
        return redirect("runs-scenario-import")
    form = ScenarioImportSaveForm(request.POST, step_count=len(steps), secret_keys=_secret_keys(steps))
    if form.is_valid():
        data = form.cleaned_data
        try:
            chosen, left_out = importer.imported_steps_chosen(
                steps, include=data["include"], keep_secrets=data["keep_secret"]
            )
        except importer.ScenarioImportError as exc:
            form.add_error(None, str(exc))
        else:
            post = importer.scenario_post_data(name=data["name"], mode=data["mode"], steps=chosen)
            scenario_form = ScenarioForm(post)
            step_rows = step_formset(data=post)
            sources = source_formset(data=post, files=None, scenario=None)
            valid = all([scenario_form.is_valid(), step_rows.is_valid(), sources.is_valid()])
            if valid and scenario_variables_check(scenario_form, step_rows, sources):
                try:
                    saved = catalog.scenario_save(
                        data=scenario_form.cleaned_data,
                        steps=step_rows.steps(),
                        sources=[],
                        team=request.team,  # type: ignore[attr-defined]
                        user=request.user,
                    )
                except catalog.CatalogError as exc:
                    form.add_error(None, str(exc))
                else:
                    left_out = sum(len(steps[i].secret_names) for i in data["include"]) - len(
                        data["keep_secret"]
                    )
                    note = (
                        f" {left_out} secret value(s) were left out: set them on the target."
                        if left_out > 0
                        else ""
                    )
                    messages.success(
                        request,
                        f"Imported scenario “{saved}” with {len(chosen)} step(s).{note} Review the steps, "
                        "then make a test plan with it.",
                    )
                    return redirect("runs-scenario-edit", pk=saved.pk)
            for field, errors in scenario_form.errors.items():
                for message in errors:
                    form.add_error("name" if field == "name" else None, message)
            for message in _step_errors(step_rows, chosen):
                form.add_error(None, message)
    return _preview(
        request,
        steps=steps,
        source_format=request.POST.get("source_format", ""),
        base_url=request.POST.get("base_url", ""),
        warnings=[],
        form=form,
    )
