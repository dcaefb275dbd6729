"""``manage.py ci_run <plan id or name>``: run a plan and exit 0 (passed), 1 (thresholds
failed) or 2 (error), optionally writing a JUnit report. See ``runs.core.ci.driver``.

With ``--server`` the plan runs on another ScaleTest through its REST API
(``runs.core.ci.remote``), authenticated by ``--token`` or ``SCALETEST_API_TOKEN``."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from runs import access
from runs.core.ci.driver import EXIT_ERROR, CapacityGate, ci_drive, junit_xml
from runs.core.ci.remote import TOKEN_ENV, add_annotation_arguments, add_capacity_arguments, ci_run_remote
from runs.models import TestPlan
from runs.services.ci import LocalRunSource

# Beyond the plan's duration and the stop grace: time a run may wait in the queue for a worker.
QUEUE_ALLOWANCE_SECONDS = 120


class Command(BaseCommand):
    help = "Start a run of a test plan, wait for it, print its thresholds and exit 0/1/2 (CI)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("plan", help="The test plan's id or exact name.")
        parser.add_argument("--user", help="Username the run is started as (default: the first superuser).")
        parser.add_argument(
            "--timeout",
            type=float,
            help="Seconds to wait before cancelling the run (default: the planned duration + grace + 120 s).",
        )
        parser.add_argument("--interval", type=float, default=5.0, help="Seconds between progress lines.")
        parser.add_argument("--junit-xml", dest="junit_xml", help="Write a JUnit XML report to this path.")
        parser.add_argument(
            "--server",
            help="Run the plan on this ScaleTest server (https://host) through its "
            "REST API instead of this installation's database.",
        )
        add_annotation_arguments(parser)
        add_capacity_arguments(parser)
        parser.add_argument(
            "--token",
            help=f"With --server: an API token (default: the {TOKEN_ENV} "
            "environment variable, which keeps it out of process lists).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def emit(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        gate = CapacityGate(options.get("min_capacity"), options.get("max_capacity_drop"))
        if options.get("token") and not options.get("server"):
            self.stderr.write("ci_run: --token goes with --server; a local run is started as --user.")
            sys.exit(EXIT_ERROR)
        if options.get("server"):
            if options.get("user"):
                self.stderr.write(
                    "ci_run: --user is for local runs; with --server the token says who starts the run."
                )
                sys.exit(EXIT_ERROR)
            sys.exit(
                ci_run_remote(
                    server=options["server"],
                    token=options["token"]
                    if options.get("token") is not None
                    else os.environ.get(TOKEN_ENV, ""),
                    plan=str(options["plan"]),
                    timeout=options.get("timeout"),
                    interval=float(options["interval"]),
                    junit_path=options.get("junit_xml"),
                    emit=emit,
                    version=options["version"],
                    tags=options["tags"],
                    gate=gate,
                )
            )

        try:
            user = self._user(options.get("user"))
            plan = self._plan(str(options["plan"]), user=user)
        except ValueError as exc:
            self.stderr.write(f"ci_run: {exc}")
            if options.get("junit_xml"):
                with open(options["junit_xml"], "w", encoding="utf-8") as fh:
                    fh.write(junit_xml(None, plan=str(options["plan"]), error=str(exc)))
            sys.exit(EXIT_ERROR)
        timeout = options.get("timeout")
        if timeout is None:
            try:
                planned = plan.profile.plan().duration
            except Exception:  # an invalid profile: run_create refuses it with the reason
                planned = float(settings.SCALETEST_MAX_RUN_SECONDS)
            timeout = planned + settings.SCALETEST_RUN_GRACE_SECONDS + QUEUE_ALLOWANCE_SECONDS
        code = ci_drive(
            LocalRunSource(plan=plan, user=user, version=options["version"], tags=options["tags"]),
            emit=emit,
            timeout=float(timeout),
            interval=max(0.5, float(options["interval"])),
            junit_path=options.get("junit_xml"),
            plan=plan.name,
            gate=gate,
        )
        sys.exit(code)

    @staticmethod
    def _plan(ref: str, *, user: Any) -> TestPlan:
        """The plan ``ref`` (id or exact name) among those ``user`` may run: an editor's or
        admin's teams' plans; an operator (superuser) may run any."""
        plans = TestPlan.objects.select_related("target", "scenario", "profile")
        if not user.is_superuser:
            plans = access.visible(plans, user=user, role=access.EDITOR)
        found = list(plans.filter(pk=int(ref))) if ref.isascii() and ref.isdigit() else []
        if not found:
            found = list(plans.filter(name=ref)[:2])
        if not found:
            raise ValueError(f"no test plan you may run has the id or name “{ref}”.")
        if len(found) > 1:
            raise ValueError(f"several test plans are named “{ref}”; give its id.")
        return found[0]

    @staticmethod
    def _user(username: str | None) -> Any:
        users = get_user_model().objects.filter(is_active=True)
        if username:
            user = users.filter(username=username).first()
            if user is None:
                raise ValueError(f"no active user is named “{username}”.")
            return user
        user = users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise ValueError("no superuser exists; give one with --user.")
        return user
