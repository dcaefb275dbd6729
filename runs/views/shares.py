"""Share links: admins make and revoke them; anyone with one reads that run or comparison.

Every response under /s/ (pages, JSON, the "not available" page) gets the headers of
``_shared``: no referrer (the token is in the URL), no indexing, no caching. Unknown, revoked
and expired tokens get the same 404 page, so a token's state cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_POST

from runs import access
from runs.figures import analysis as figures_analysis
from runs.forms.compare import CompareWindowForm, RunsCompareForm
from runs.forms.shares import ShareCreateForm
from runs.models import Run, ShareLink
from runs.security import throttle
from runs.security.client import client_address
from runs.selectors import analysis as selectors_analysis
from runs.selectors import runs as selectors
from runs.services import shares
from runs.views import exports
from runs.views.compare import comparison_figures
from runs.views.runs import run_page_context, tables_context


# -- the shared pages (no login) ----------------------------------------------------------------
def _missing(request: HttpRequest) -> HttpResponse:
    return render(request, "share/missing.html", {}, status=404)


def _shared(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Resolve ``token`` to a live link (else the one 404 page) and set the shared headers."""

    @wraps(view)
    def wrapped(request: HttpRequest, token: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        share = shares.share_resolve(token=token)
        if share is None:  # counted per address; too many: 429 (runs.security.middleware)
            throttle.throttle_failure(scope=throttle.SHARE_TOKEN, address=client_address(request))
        try:
            response = _missing(request) if share is None else view(request, share, token, *args, **kwargs)
        except Http404:
            response = _missing(request)
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Cache-Control"] = "private, no-store"
        return response

    return require_GET(wrapped)


def _share_runs(share: ShareLink) -> Any:
    # The link's team bounds every read, whatever ids a request names.
    return Run.objects.filter(team_id=share.team_id)


@_shared
def share_page(request: HttpRequest, share: ShareLink, token: str) -> HttpResponse:
    shares.share_record_view(share=share)
    if share.kind == ShareLink.Kind.RUN:
        run = share.run
        assert run is not None
        context = run_page_context(
            run,
            live_url=reverse("share-live", args=[token]),
            tables_url=reverse("share-tables", args=[token]),
            with_baseline=False,
        )
        return render(request, "share/run.html", {**context, "share": share, "shared": True, "token": token})
    try:
        result = selectors_analysis.runs_compare(
            runs=_share_runs(share), ids=share.run_ids, reference_id=share.baseline_id
        )
    except selectors_analysis.RunsNotFound:
        raise Http404("A run of this comparison was deleted.") from None
    figs = comparison_figures(result)
    ids_param = ",".join(str(i) for i in share.run_ids)
    context = {
        "share": share,
        "shared": True,
        "result": result,
        "figs": figs,
        "window_url": f"{reverse('share-window', args=[token])}?ids={ids_param}",
    }
    return render(request, "share/compare.html", context)


def _shared_run(share: ShareLink) -> Run:
    if share.kind != ShareLink.Kind.RUN or share.run is None:
        raise Http404("Not a run link.")
    return share.run


@_shared
def share_live(request: HttpRequest, share: ShareLink, token: str) -> HttpResponse:
    run = _shared_run(share)
    try:
        after = int(request.GET.get("after", "-1"))
    except ValueError:
        after = -1
    return JsonResponse(selectors.run_live_payload(run=run, after=after))


@_shared
def share_tables(request: HttpRequest, share: ShareLink, token: str) -> HttpResponse:
    return render(request, "runs/run_detail_tables.html", tables_context(request, _shared_run(share)))


@_shared
def share_export_csv(request: HttpRequest, share: ShareLink, token: str) -> HttpResponseBase:
    return exports.csv_response(_shared_run(share))


@_shared
def share_export_json(request: HttpRequest, share: ShareLink, token: str) -> HttpResponseBase:
    return exports.json_response(request, _shared_run(share))


@_shared
@csp_override({})  # the report's own policy is in its <meta> tag; the 404 page keeps the site's
def share_report(request: HttpRequest, share: ShareLink, token: str) -> HttpResponse:
    return exports.report_response(_shared_run(share), with_baseline=False)


@_shared
def share_window(request: HttpRequest, share: ShareLink, token: str) -> HttpResponse:
    """The comparison's zoom data. ``ids`` must be exactly the link's runs: a link never reads
    another run, whatever the query string says."""
    if share.kind != ShareLink.Kind.COMPARE:
        raise Http404("Not a comparison link.")
    form = CompareWindowForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    data = form.cleaned_data
    if data["ids"] != list(share.run_ids):
        raise Http404("Not the runs of this link.")
    series = selectors.runs_series_window(
        runs=_share_runs(share), ids=data["ids"], lo=data["start"], hi=data["end"]
    )
    if series is None:
        raise Http404("No such run.")
    figs = figures_analysis.compare_timeseries_figures([""] * len(series), series)
    return JsonResponse(
        {
            key: {"x": [tr["x"] for tr in fig["data"]], "y": [tr["y"] for tr in fig["data"]]}
            for key, fig in figs.items()
        }
    )


# -- making and revoking links (team admins) ---------------------------------------------------
def _created(request: HttpRequest, share: ShareLink, token: str, *, back_url: str) -> HttpResponse:
    url = request.build_absolute_uri(reverse("share-page", args=[token]))
    response = render(request, "runs/share_created.html", {"share": share, "url": url, "back_url": back_url})
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@require_POST
@access.team_view()
def run_share(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.object_for(request, Run.objects.all(), pk, role=access.ADMIN)
    form = ShareCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(run)
    try:
        share, token = shares.share_create_run(run=run, user=request.user, **form.cleaned_data)
    except shares.ShareError as exc:
        messages.error(request, str(exc))
        return redirect(run)
    return _created(request, share, token, back_url=run.get_absolute_url())


@never_cache
@require_POST
@access.team_view()
def compare_share(request: HttpRequest) -> HttpResponse:
    compare = RunsCompareForm(request.POST)
    form = ShareCreateForm(request.POST)
    if not compare.is_valid():
        messages.error(request, " ".join(str(e) for errors in compare.errors.values() for e in errors))
        return redirect("runs-list")
    ids = compare.cleaned_data["ids"]
    back_url = f"{reverse('runs-compare')}?ids={','.join(str(i) for i in ids)}"
    by_id = {r.pk: r for r in access.visible(Run.objects.filter(pk__in=ids), user=request.user)}
    if len(by_id) != len(ids):
        raise Http404("No such run.")
    runs = [by_id[i] for i in ids]
    if len({r.team_id for r in runs}) != 1:
        messages.error(request, "A comparison link shows runs of one team only.")
        return redirect(back_url)
    membership = access.membership_of(user=request.user, team_id=runs[0].team_id)
    if membership is None or not membership.can(access.ADMIN):
        raise PermissionDenied("Only the team's admins can share its runs.")
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back_url)
    try:
        share, token = shares.share_create_compare(
            team=membership.team,
            runs=runs,
            baseline_id=compare.cleaned_data.get("baseline"),
            user=request.user,
            **form.cleaned_data,
        )
    except shares.ShareError as exc:
        messages.error(request, str(exc))
        return redirect(back_url)
    return _created(request, share, token, back_url=back_url)


@require_GET
@access.team_view()
def team_shares(request: HttpRequest, pk: int) -> HttpResponse:
    """The team's links. Every member may see what is shared; only admins revoke."""
    membership = access.membership_of(user=request.user, team_id=pk)
    if membership is None:
        raise Http404("No such team.")
    context = {
        "team": membership.team,
        "is_admin": membership.can(access.ADMIN),
        "shares": ShareLink.objects.filter(team_id=pk).select_related("created_by"),
        "now": timezone.now(),
        "time_zone": settings.TIME_ZONE,
    }
    return render(request, "runs/share_list.html", context)


@require_POST
@access.team_view()
def team_share_revoke(request: HttpRequest, pk: int, share_pk: int) -> HttpResponse:
    membership = access.membership_of(user=request.user, team_id=pk)
    if membership is None:
        raise Http404("No such team.")
    if not membership.can(access.ADMIN):
        raise PermissionDenied("Only the team's admins can revoke its links.")
    share = get_object_or_404(ShareLink, pk=share_pk, team_id=pk)
    shares.share_revoke(share=share)
    messages.success(
        request, f"Revoked the link “{share.label or share.get_kind_display()}”; it no longer opens."
    )
    return redirect("teams-shares", pk=pk)
