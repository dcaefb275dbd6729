"""The domain: targets, scenarios, load profiles, plans, runs and their results.

Model methods only derive values from the row's own fields; writes go through
``runs.services`` and reads of several rows through ``runs.selectors.runs``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.urls import reverse

from runs.core import profiles
from runs.core import thresholds as thresholds_mod
from runs.core.histogram import Histogram


def validate_thresholds(value: object) -> None:
    """The stored JSON list of a plan's thresholds (``runs.core.thresholds``), e.g. edited in the admin."""
    try:
        thresholds_mod.parse_thresholds(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class HistogramField(models.BinaryField):
    """An exact latency histogram in ``runs.core.histogram``'s compact stored form (bytes).

    Rows read back as ``bytes`` (``Histogram.load`` decodes them; ``decode_many`` thousands at
    once). A ``Histogram`` or the older dict form may be assigned: both are stored compact.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", bytes)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Histogram):
            value = value.to_bytes()
        elif value is None or isinstance(value, dict):
            value = Histogram.from_dict(value).to_bytes()
        return super().get_prep_value(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> bytes:
        return bytes(value) if value is not None else b""


class BytesField(models.BinaryField):
    """Binary data read back as ``bytes`` on every database (PostgreSQL's driver gives
    ``memoryview``), so rows compare and checksum alike wherever they are stored."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> bytes | None:
        return bytes(value) if value is not None else None


HTTP_URL = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class Team(models.Model):
    """Who owns targets, scenarios, profiles, plans and runs. Users see only their teams' objects."""

    name = models.CharField(max_length=200)
    # Set by operators (Django admin): locustfile scenarios run arbitrary Python in the child.
    allow_locustfiles = models.BooleanField(
        default=False, help_text="Allow this team's scenarios to be locustfiles (Python run by the workers)."
    )
    # The team's own caps (operators set them in the admin); empty: the server-wide setting.
    # A team cap above the server-wide one has no effect: the server's caps always apply.
    max_users = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: SCALETEST_MAX_USERS.")
    max_run_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: SCALETEST_MAX_RUN_SECONDS."
    )
    max_concurrent_runs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: SCALETEST_MAX_CONCURRENT_RUNS."
    )
    target_daily_user_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per target, last 24 h. Empty: SCALETEST_TARGET_DAILY_USER_SECONDS."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer (read)"
        EDITOR = "editor", "Editor (create and run)"
        ADMIN = "admin", "Admin (members, settings, share links)"

    # Each role can do everything the roles before it can.
    RANK: ClassVar[dict[str, int]] = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}

    team = models.ForeignKey(Team, related_name="memberships", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="memberships", on_delete=models.CASCADE)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_team_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def can(self, role: str) -> bool:
        return self.RANK[self.role] >= self.RANK[role]


class TeamOwned(models.Model):
    """What every team-owned catalog object has: its team, a name, who made it and when; listed by
    name. ``url_name`` is the page that edits or shows one."""

    url_name = ""

    team = models.ForeignKey(Team, related_name="+", on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse(self.url_name, args=[self.pk])


class Target(TeamOwned):
    url_name = "runs-target-edit"

    class Auth(models.TextChoices):
        NONE = "none", "None"
        BASIC = "basic", "Basic"
        BEARER = "bearer", "Bearer token"

    base_url = models.CharField(max_length=500, validators=[HTTP_URL])
    headers = models.JSONField(default=dict, blank=True)
    auth_type = models.CharField(max_length=10, choices=Auth.choices, default=Auth.NONE)
    auth_username = models.CharField(max_length=200, blank=True)
    auth_password = models.CharField(max_length=500, blank=True)
    auth_token = models.CharField(max_length=2000, blank=True)
    verify_tls = models.BooleanField(default=True)
    timeout_seconds = models.FloatField(
        default=30.0, validators=[MinValueValidator(0.1), MaxValueValidator(600)]
    )


class Scenario(TeamOwned):
    url_name = "runs-scenario-edit"

    class UserClass(models.TextChoices):
        FAST = "fast", "FastHttpUser (geventhttpclient, fastest)"
        HTTP = "http", "HttpUser (requests)"

    class Kind(models.TextChoices):
        STEPS = "steps", "Request steps"
        LOCUSTFILE = "locustfile", "Locustfile (Python)"

    class Mode(models.TextChoices):
        WEIGHTED = "weighted", "Weighted: each iteration runs one step picked by weight"
        SEQUENCE = "sequence", "Sequence: each iteration runs every step in order"

    description = models.TextField(blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.STEPS)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.WEIGHTED)
    # Python source of a ``locustfile`` scenario; runs only where locustfiles are allowed
    # (runs.services.scenarios.locustfile_allowed).
    locustfile = models.TextField(blank=True)
    think_time_min = models.FloatField(default=0.0, validators=[MinValueValidator(0)])
    think_time_max = models.FloatField(default=0.0, validators=[MinValueValidator(0)])
    user_class = models.CharField(max_length=10, choices=UserClass.choices, default=UserClass.FAST)


class ScenarioStep(models.Model):
    class BodyType(models.TextChoices):
        NONE = "none", "No body"
        JSON = "json", "JSON"
        TEXT = "text", "Text"

    scenario = models.ForeignKey(Scenario, related_name="steps", on_delete=models.CASCADE)
    order = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=200, blank=True, help_text="Shown in results; defaults to the path.")
    method = models.CharField(max_length=10, choices=[(m, m) for m in METHODS], default="GET")
    path = models.CharField(max_length=1000, default="/")
    query = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body_type = models.CharField(max_length=10, choices=BodyType.choices, default=BodyType.NONE)
    body = models.TextField(blank=True)
    weight = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    expected_statuses = models.CharField(
        max_length=200, default="200-399", help_text="Codes and ranges, e.g. 200-299,304."
    )
    # [{"var": "token", "source": "json" | "header" | "regex", "expr": "access_token"}]
    extract = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.path


class ScenarioDataSource(models.Model):
    """Values for a scenario's ``${name}`` variables: a CSV file (header row = names) or a
    list (one value per line, one name), parsed when saved."""

    class Kind(models.TextChoices):
        CSV = "csv", "CSV file"
        LIST = "list", "List of values"

    class Mode(models.TextChoices):
        SEQUENTIAL = "sequential", "Next row (shared by all users, wraps around)"
        RANDOM = "random", "Random row"

    scenario = models.ForeignKey(Scenario, related_name="sources", on_delete=models.CASCADE)
    order = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.LIST)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.SEQUENTIAL)
    filename = models.CharField(max_length=255, blank=True)
    columns = models.JSONField(default=list)
    rows = models.JSONField(default=list)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.filename or ", ".join(self.columns)


class LoadProfile(TeamOwned):
    url_name = "runs-profile-edit"

    KIND_CHOICES = [(k, profiles.KIND_LABELS[k]) for k in profiles.KINDS]

    kind = models.CharField(max_length=20, choices=KIND_CHOICES, default="constant")
    params = models.JSONField(default=dict)

    def plan(self) -> profiles.Plan:
        return profiles.build_plan(self.kind, self.params)


class TestPlan(TeamOwned):
    url_name = "runs-plan-detail"

    target = models.ForeignKey(Target, related_name="plans", on_delete=models.PROTECT)
    scenario = models.ForeignKey(Scenario, related_name="plans", on_delete=models.PROTECT)
    profile = models.ForeignKey(LoadProfile, related_name="plans", on_delete=models.PROTECT)
    notes = models.TextField(blank=True)
    # A 5-field cron expression (minute hour day-of-month month day-of-week) in settings.TIME_ZONE;
    # blank: no schedule. runs.services.schedules starts due plans (Celery beat).
    schedule = models.CharField(max_length=100, blank=True)
    schedule_next_at = models.DateTimeField(null=True, blank=True, db_index=True)
    schedule_last_at = models.DateTimeField(null=True, blank=True)
    schedule_last_run = models.ForeignKey(
        "Run", null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    # Why the last scheduled start was refused (caps, safety, profile); blank after a success.
    schedule_last_error = models.TextField(blank=True)
    # Pass/fail criteria: a list of ``runs.core.thresholds.Threshold.to_dict`` dicts.
    thresholds = models.JSONField(default=list, blank=True, validators=[validate_thresholds])
    # Load generator processes (Locust workers) a run uses; 1 runs a single local process.
    # The upper bound is SCALETEST_MAX_GENERATORS, checked by the form and run_create.
    generators = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    # The run every new run of this plan is compared with.
    baseline_run = models.ForeignKey(
        "Run", null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )

    # pytest would otherwise try to collect a class whose name starts with "Test".
    __test__ = False


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULED = "scheduled", "Scheduled"
        API = "api", "API"
        CI = "ci", "CI"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    # The plan's team when the run started; runs outlive their plan.
    team = models.ForeignKey(Team, related_name="+", on_delete=models.CASCADE)
    plan = models.ForeignKey(TestPlan, related_name="runs", null=True, blank=True, on_delete=models.SET_NULL)
    plan_name = models.CharField(max_length=200)
    # The plan as it was when the run was started: target, scenario with steps, profile.
    snapshot = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL, db_index=True)
    # Annotations (runs.services.annotations validates them): what was deployed, labels, notes.
    version = models.CharField(max_length=100, blank=True, db_index=True)
    tags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Last time its task was sent to the broker; the reaper sends it again when a queued run
    # waits too long (a message lost with a Redis restart), see runs.engine.reaper.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)
    locust_version = models.CharField(max_length=50, blank=True)
    generator_host = models.CharField(max_length=255, blank=True)
    generators = models.PositiveSmallIntegerField(default=1)
    planned_seconds = models.FloatField(default=0)
    # Running totals kept up to date by ingestion; summary percentiles set when the run ends.
    total_requests = models.BigIntegerField(default=0)
    total_failures = models.BigIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    last_t = models.IntegerField(default=-1, help_text="Last second stored, relative to the start.")
    ingested_messages = models.BigIntegerField(
        default=0,
        help_text="Load-generator messages stored, counted in the order the runner received them: "
        "a batch retried after a lost commit skips those already stored (results_ingest).",
    )
    current_users = models.IntegerField(default=0)
    p50_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    p99_ms = models.FloatField(null=True, blank=True)
    max_ms = models.FloatField(null=True, blank=True)
    # Threshold verdicts (``runs.core.thresholds.evaluate``), set when the run ends: None without
    # thresholds, True only when every threshold passed.
    passed = models.BooleanField(null=True, blank=True)
    threshold_results = models.JSONField(default=list, blank=True)
    # Set by the runner when an abort threshold stopped the run (``runs.core.thresholds.Abort.to_dict``).
    threshold_abort = models.JSONField(null=True, blank=True)
    # Capacity-search profiles: the child's decided steps and how the search ended
    # ({"decisions": [...], "outcome": {...} | null}, see runs.core.capacity_search); null otherwise.
    capacity_search = models.JSONField(null=True, blank=True)
    # Retention (runs.services.retention): a pinned run keeps its per-second rows for good; an
    # old one's are rolled up into rows of ``resolution_s`` seconds (``t`` = the window's first
    # second), at ``rolled_up_at``. Readers turn a row's counts into rates over its span
    # (``runs.core.rollup.row_span``).
    pinned = models.BooleanField(default=False)
    resolution_s = models.PositiveSmallIntegerField(default=1)
    rolled_up_at = models.DateTimeField(null=True, blank=True)
    # An ended run's RunSecond and EndpointSecond rows are packed into PackedSeconds blocks
    # (``runs.services.packing``) at ``packed_at``; readers go through ``runs.selectors.seconds``.
    packed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"Run #{self.pk} of {self.plan_name}"

    def get_absolute_url(self) -> str:
        return reverse("runs-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        if self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return float(self.last_t + 1) if self.last_t >= 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.total_failures / self.total_requests if self.total_requests else 0.0

    @property
    def is_open_model(self) -> bool:
        """An arrival-rate run (iterations started on a schedule), from the run's snapshot."""
        return profiles.is_open_model(((self.snapshot or {}).get("profile") or {}).get("kind", ""))

    @property
    def thresholds(self) -> list[dict[str, object]]:
        """The thresholds the run was started with (from its snapshot)."""
        return list((self.snapshot or {}).get("thresholds") or [])

    @property
    def is_rolled_up(self) -> bool:
        return self.resolution_s > 1

    @property
    def rolled_up_after_days(self) -> int | None:
        """Whole days between the run's end and its roll-up (the retention setting then)."""
        if self.rolled_up_at is None or self.finished_at is None:
            return None
        return max(0, (self.rolled_up_at - self.finished_at).days)

    @property
    def mean_rps(self) -> float:
        seconds = self.last_t + 1
        return self.total_requests / seconds if seconds > 0 else 0.0


class RunSecond(models.Model):
    """All endpoints of one run merged, for one second (t seconds after the start)."""

    run = models.ForeignKey(Run, related_name="seconds", on_delete=models.CASCADE)
    t = models.IntegerField()
    users = models.IntegerField(default=0)
    requests = models.IntegerField(default=0)
    failures = models.IntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    cpu_percent = models.FloatField(null=True, blank=True)
    # Open-model (arrival-rate) runs: iterations due in this second that could not start on
    # time because the in-flight cap was reached.
    dropped_iterations = models.IntegerField(default=0)
    # Derived from ``histogram`` at ingestion, so time-series charts never re-parse it.
    p50_ms = models.FloatField(null=True)
    p95_ms = models.FloatField(null=True)
    p99_ms = models.FloatField(null=True)
    max_ms = models.FloatField(null=True)
    mean_ms = models.FloatField(null=True)
    # Empty when the second has exactly one endpoint: its EndpointSecond row holds the same
    # histogram (``runs.selectors.histograms`` fills it in for readers).
    histogram = HistogramField()

    class Meta:
        ordering = ["run", "t"]
        constraints = [models.UniqueConstraint(fields=["run", "t"], name="runsecond_run_t")]

    def __str__(self) -> str:
        return f"Run #{self.run_id} at {self.t} s"


class RunControl(models.Model):
    """One entry of a run's timeline of live control: a new level (users or arrival rate) or a
    stop early, asked for on the run page or through the API (``runs.services.control``).

    The run's parent sends pending entries to its load generator; ``at_s`` (seconds after the
    start) is when the generator applied the new level (its acknowledgement), where the level's
    step begins in the analysis (``runs.core.control.effective_plan``)."""

    class Kind(models.TextChoices):
        USERS = "users", "Users"
        RATE = "rate", "Arrival rate"
        STOP = "stop", "Stop early"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the load generator"
        SENT = "sent", "Sent to the load generator"
        APPLIED = "applied", "Applied"
        REFUSED = "refused", "Refused by the load generator"
        MISSED = "missed", "Not applied: the run ended first"

    OPEN = (State.PENDING, State.SENT)

    run = models.ForeignKey(Run, related_name="controls", on_delete=models.CASCADE)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.FloatField(
        null=True, blank=True, help_text="The new users or iterations/s; none for a stop."
    )
    previous = models.FloatField(null=True, blank=True, help_text="The level before the change.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    at_s = models.FloatField(null=True, blank=True, help_text="Seconds after the start it was applied.")
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["run", "requested_at", "id"]
        indexes = [models.Index(fields=["run", "state"])]

    def __str__(self) -> str:
        return f"Run #{self.run_id}: {self.kind} {self.value if self.value is not None else ''}".rstrip()


class GeneratorSecond(models.Model):
    """What one load generator of a distributed run did in one second (t after the start)."""

    run = models.ForeignKey(Run, related_name="generator_seconds", on_delete=models.CASCADE)
    generator = models.PositiveSmallIntegerField(help_text="Index of the generator, from 0.")
    t = models.IntegerField()
    requests = models.IntegerField(default=0)
    failures = models.IntegerField(default=0)
    cpu_percent = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run", "generator", "t"]
        constraints = [
            models.UniqueConstraint(fields=["run", "generator", "t"], name="generatorsecond_unique")
        ]

    def __str__(self) -> str:
        return f"Run #{self.run_id} generator {self.generator} at {self.t} s"


class RunGenerator(models.Model):
    """Where one generator of a distributed run ran: written by its generator task when it starts."""

    run = models.ForeignKey(Run, related_name="generator_nodes", on_delete=models.CASCADE)
    generator = models.PositiveSmallIntegerField(help_text="Index of the generator, from 0.")
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True, help_text="The generator task's process.")
    joined_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "generator"]
        constraints = [models.UniqueConstraint(fields=["run", "generator"], name="rungenerator_unique")]

    def __str__(self) -> str:
        return f"run {self.run_id} generator {self.generator} on {self.host or '?'}"


class EndpointSecond(models.Model):
    """One endpoint (method + name) of one run for one second."""

    run = models.ForeignKey(Run, related_name="endpoint_seconds", on_delete=models.CASCADE)
    t = models.IntegerField()
    method = models.CharField(max_length=10)
    name = models.CharField(max_length=1000)
    requests = models.IntegerField(default=0)
    failures = models.IntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    p50_ms = models.FloatField(null=True)
    p95_ms = models.FloatField(null=True)
    p99_ms = models.FloatField(null=True)
    max_ms = models.FloatField(null=True)
    histogram = HistogramField()

    class Meta:
        ordering = ["run", "t", "method", "name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "t", "method", "name"], name="endpointsecond_unique")
        ]

    def __str__(self) -> str:
        return f"Run #{self.run_id} {self.method} {self.name} at {self.t} s"


class PackedSeconds(models.Model):
    """Up to ``runs.core.packing.BLOCK_SECONDS`` consecutive per-second rows of an ended run,
    packed exactly: the run's own (RunSecond; ``method`` and ``name`` empty) or one endpoint's
    (EndpointSecond). ``runs.selectors.seconds`` reads them as the rows they were."""

    run = models.ForeignKey(Run, related_name="packed_seconds", on_delete=models.CASCADE)
    endpoint = models.BooleanField()
    method = models.CharField(max_length=10, blank=True)
    name = models.CharField(max_length=1000, blank=True)
    t0 = models.IntegerField()  # first and last second in the block
    t1 = models.IntegerField()
    rows = models.IntegerField()
    columns = BytesField()  # runs.core.packing's compressed columns
    histograms = BytesField()  # and the rows' compact histograms, compressed

    class Meta:
        ordering = ["run", "endpoint", "t0", "method", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "endpoint", "t0", "method", "name"], name="packedseconds_unique"
            )
        ]

    def __str__(self) -> str:
        what = f"{self.method} {self.name}" if self.endpoint else "all endpoints"
        return f"Run #{self.run_id} {what} at {self.t0}–{self.t1} s"


class EndpointSummary(models.Model):
    """Whole-run figures of one endpoint, merged from its exact per-second histograms."""

    run = models.ForeignKey(Run, related_name="endpoint_summaries", on_delete=models.CASCADE)
    method = models.CharField(max_length=10)
    name = models.CharField(max_length=1000)
    requests = models.BigIntegerField(default=0)
    failures = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    p50_ms = models.FloatField(null=True)
    p90_ms = models.FloatField(null=True)
    p95_ms = models.FloatField(null=True)
    p99_ms = models.FloatField(null=True)
    max_ms = models.FloatField(null=True)
    mean_ms = models.FloatField(null=True)
    rps = models.FloatField(default=0)
    histogram = HistogramField()

    class Meta:
        ordering = ["run", "name", "method"]
        constraints = [
            models.UniqueConstraint(fields=["run", "method", "name"], name="endpointsummary_unique")
        ]

    def __str__(self) -> str:
        return f"Run #{self.run_id} {self.method} {self.name}"


class RunAnalysis(models.Model):
    """The capacity analysis of an ended run, computed once (``runs.services.analysis``).

    ``data`` is ``runs.core.analysis.stored``'s format: steps with their CIs, knee, USL fit,
    validity warnings, per-endpoint steps, bottlenecks, and the block series comparisons use.
    A stored ``version`` other than ``ANALYSIS_VERSION`` is recomputed on its next read.
    """

    run = models.OneToOneField(Run, related_name="analysis", on_delete=models.CASCADE)
    version = models.PositiveIntegerField()
    computed_at = models.DateTimeField()
    data = models.JSONField()
    # Copied out of ``data`` (its knee) so a plan's trend reads them for hundreds of runs
    # without parsing each run's whole analysis.
    max_rps = models.FloatField(null=True, blank=True)
    knee_users = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Analysis of run #{self.run_id} (v{self.version})"


class ErrorGroup(models.Model):
    run = models.ForeignKey(Run, related_name="errors", on_delete=models.CASCADE)
    method = models.CharField(max_length=10)
    name = models.CharField(max_length=1000)
    error_class = models.CharField(max_length=200)
    message = models.CharField(max_length=500)
    count = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["run", "-count"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "method", "name", "error_class", "message"], name="errorgroup_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Run #{self.run_id} {self.method} {self.name}: {self.error_class} ×{self.count}"


class AllowedNetwork(models.Model):
    """An administrator's allowlist entry: targets here may be tested without proving ownership,
    even on loopback or private addresses (that is how local and staging targets are tested).

    ``value`` is a host name, an IP address or a CIDR range, optionally with ``:port``
    (IPv6 with a port in brackets: ``[::1]:8089``). ``runs.core.safety.allowlist`` parses it.
    """

    value = models.CharField(max_length=300, unique=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["value"]

    def __str__(self) -> str:
        return self.value

    def clean(self) -> None:
        from runs.core.safety.allowlist import AllowRule

        try:
            self.value = AllowRule.parse(self.value).spelling
        except ValueError as exc:
            raise ValidationError({"value": str(exc)}) from None


class TargetVerification(models.Model):
    """Proof that whoever set up a target controls it: a token published on the target itself,
    fetched again before every run (``runs.core.safety.verification``)."""

    target = models.OneToOneField(Target, related_name="verification", on_delete=models.CASCADE)
    token = models.CharField(max_length=64, unique=True)
    # The host (and port) the proof was given for; a changed base URL needs a new proof.
    host = models.CharField(max_length=300)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Verification of {self.target}"


class ApiToken(models.Model):
    """A personal token for the REST API (``Authorization: Bearer st_…``).

    Only the SHA-256 of the token is stored; the token itself is shown once, when it is made.
    ``prefix`` (its first characters) tells tokens apart in lists.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="api_tokens", on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable_at(self, now: Any) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ShareLink(models.Model):
    """A read-only link to one run page or one comparison, for people without an account.

    Only the SHA-256 of the token is stored (``runs.services.shares``); the full URL is shown
    once, when the link is created. Revoked or expired links answer like unknown ones.
    """

    class Kind(models.TextChoices):
        RUN = "run", "Run"
        COMPARE = "compare", "Comparison"

    team = models.ForeignKey(Team, related_name="share_links", on_delete=models.CASCADE)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    run = models.ForeignKey(Run, null=True, blank=True, related_name="share_links", on_delete=models.CASCADE)
    # Comparison links: the run ids in page order and the reference run (one of them) or None.
    run_ids = models.JSONField(default=list, blank=True)
    baseline_id = models.IntegerField(null=True, blank=True)
    label = models.CharField(max_length=200, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Share link #{self.pk} ({self.kind}) of {self.team}"

    def is_live_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class AuditEntry(models.Model):
    """One security-relevant action: who, when, from where, how, on what (runs.services.audit).

    Written by the services, never edited; old entries are purged after
    SCALETEST_AUDIT_RETENTION_DAYS. ``actor_name`` keeps the username (for a failed sign-in,
    the one that was tried) after the account is gone; ``team`` is null for actions outside
    any team (sign-ins, API tokens, the allowlist).
    """

    class Action(models.TextChoices):
        LOGIN_FAILED = "login.failed", "Sign-in failed"
        LOCKED_OUT = "login.locked_out", "Locked out"
        SHARE_CREATE = "share.create", "Share link created"
        SHARE_REVOKE = "share.revoke", "Share link revoked"
        TOKEN_CREATE = "token.create", "API token created"
        TOKEN_REVOKE = "token.revoke", "API token revoked"
        TEAM_CREATE = "team.create", "Team created"
        MEMBER_ADD = "member.add", "Member added"
        MEMBER_ROLE = "member.role", "Member role changed"
        MEMBER_REMOVE = "member.remove", "Member removed"
        TEAM_CAPS = "team.caps", "Team caps changed"
        TEAM_LOCUSTFILES = "team.locustfiles", "Locustfile permission changed"
        ALLOWLIST_ADD = "allowlist.add", "Allowlist entry added"
        ALLOWLIST_CHANGE = "allowlist.change", "Allowlist entry changed"
        ALLOWLIST_DELETE = "allowlist.delete", "Allowlist entry deleted"
        TARGET_VERIFY = "target.verify", "Target ownership checked"
        RUN_START = "run.start", "Run started"
        RUN_CANCEL = "run.cancel", "Run cancelled"
        RUN_CONTROL = "run.control", "Run load changed or stopped early"
        RUN_PIN = "run.pin", "Run pinned or unpinned"
        RUN_ROLLUP = "run.rollup", "Run rolled up to a coarser resolution"

    class Via(models.TextChoices):
        PAGE = "page", "Page"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        CI = "ci", "CI"
        SCHEDULE = "schedule", "Schedule"
        SYSTEM = "system", "System"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.SYSTEM)
    action = models.CharField(max_length=30, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=50, blank=True)
    object_label = models.CharField(max_length=300, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, related_name="+", on_delete=models.SET_NULL)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "-created_at"], name="audit_team_time")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M:%S}" if self.created_at else "now"
        return f"{self.get_action_display()} by {self.actor_name or 'nobody'} at {when}"


class NotificationChannel(models.Model):
    """Where a team hears about its runs: a webhook (generic JSON, Slack, Microsoft Teams) or
    e-mail. ``runs.services.notifications`` decides what is sent; webhook bodies are signed
    with ``secret`` (HMAC-SHA256, ``runs.core.notifications.payloads``)."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (JSON)"
        SLACK = "slack", "Slack (incoming webhook)"
        TEAMS = "teams", "Microsoft Teams (workflow webhook)"
        EMAIL = "email", "E-mail"

    class Event(models.TextChoices):
        FINISHED = "run.finished", "Run finished"
        FAILED = "run.failed", "Run failed"
        THRESHOLD_FAILED = "run.threshold_failed", "Threshold failed"
        REGRESSION = "run.regression", "Slower than the baseline"

    team = models.ForeignKey(Team, related_name="notification_channels", on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WEBHOOK)
    # Webhooks only; checked against the address rules when saved and again at every delivery.
    url = models.CharField(max_length=1000, blank=True)
    # E-mail only: one address a line (or comma-separated when typed).
    recipients = models.TextField(blank=True)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_webhook(self) -> bool:
        return self.kind != self.Kind.EMAIL

    @property
    def recipient_list(self) -> list[str]:
        return [r for r in (part.strip() for part in self.recipients.replace(",", "\n").splitlines()) if r]


class NotificationDelivery(models.Model):
    """One event sent (or being sent) to one channel, with every attempt in ``attempt_log``.

    ``(channel, run, event)`` is unique, so a second delivery of the task that creates them
    sends nothing twice; test deliveries have no run."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Waiting to retry"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    TEST_EVENT = "test"

    channel = models.ForeignKey(NotificationChannel, related_name="deliveries", on_delete=models.CASCADE)
    team = models.ForeignKey(Team, related_name="+", on_delete=models.CASCADE)
    run = models.ForeignKey(Run, null=True, blank=True, related_name="+", on_delete=models.SET_NULL)
    event = models.CharField(max_length=30)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    # The facts sent (``runs.core.notifications.payloads.Facts.to_dict``); each attempt renders them.
    facts = models.JSONField(default=dict)
    attempts = models.PositiveIntegerField(default=0)
    # [{"at": iso, "status_code": int | None, "error": str, "ms": float}], oldest first.
    attempt_log = models.JSONField(default=list, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # When the current attempt claimed it (status "sending"): an attempt whose worker died
    # mid-send is found by its age and tried again or failed (``deliveries_recover_stale``).
    sending_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "run", "event"], name="notificationdelivery_unique")
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.channel_id} ({self.status})"


class MetricSource(models.Model):
    """Where a target's server-side metrics are read during a run (``runs.core.metrics``):
    a Prometheus-format ``/metrics`` page scraped every second, or a Prometheus server asked
    with PromQL. Its credentials are kept like the target's and never exported."""

    class Kind(models.TextChoices):
        SCRAPE = "scrape", "Scrape a /metrics page every second"
        PROMETHEUS = "prometheus", "Prometheus server (PromQL, range queries)"

    target = models.ForeignKey(Target, related_name="metric_sources", on_delete=models.CASCADE)
    order = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SCRAPE)
    url = models.CharField(max_length=500, validators=[HTTP_URL])
    auth_type = models.CharField(max_length=10, choices=Target.Auth.choices, default=Target.Auth.NONE)
    auth_username = models.CharField(max_length=200, blank=True)
    auth_password = models.CharField(max_length=500, blank=True)
    auth_token = models.CharField(max_length=2000, blank=True)
    verify_tls = models.BooleanField(default=True)
    # [{"name": "slots_busy", "expr": "demo_slots_busy", "unit": "slots", "limit": 8}]
    series = models.JSONField(default=list)

    class Meta:
        ordering = ["target", "order", "id"]

    def __str__(self) -> str:
        return self.name


class RunMetricSeries(models.Model):
    """One server series of a run: what it is (copied from the source when the run started)
    and whether reading it went wrong (``warning``: gaps, never a failed run)."""

    run = models.ForeignKey(Run, related_name="metric_series", on_delete=models.CASCADE)
    order = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=100)
    kind = models.CharField(max_length=12)
    name = models.CharField(max_length=100)
    expr = models.TextField()
    unit = models.CharField(max_length=20, blank=True)
    limit = models.FloatField(null=True, blank=True)
    warning = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "source", "name"], name="runmetricseries_run_source_name")
        ]

    def __str__(self) -> str:
        return f"{self.source}.{self.name}"

    @property
    def key(self) -> str:
        return f"{self.source}.{self.name}"


class RunMetricPoint(models.Model):
    """A server series' value at second ``t`` of the run (the same t as ``RunSecond``)."""

    series = models.ForeignKey(RunMetricSeries, related_name="points", on_delete=models.CASCADE)
    t = models.IntegerField()
    value = models.FloatField()

    class Meta:
        ordering = ["series", "t"]
        constraints = [models.UniqueConstraint(fields=["series", "t"], name="runmetricpoint_series_t")]

    def __str__(self) -> str:
        return f"{self.series_id} at {self.t} s"
