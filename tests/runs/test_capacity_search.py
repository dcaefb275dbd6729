"""The capacity search's decisions, fed made-up seconds of systems whose capacity is known.

No Locust, no database: ``runs.core.capacity_search`` is a pure state machine. A simulated
target of K slots × S ms answers N users (no think time) in max(S, N·S/K) ms at min(N/S, K/S)
requests per second, with a little spread, so each test knows the true capacity.
"""

from __future__ import annotations

import random

import pytest

from runs.core import capacity_search as cs
from runs.core.histogram import Histogram
from runs.core.thresholds import parse_thresholds

KEY = ("GET", "/slots")


def slots_second(
    load: float,
    *,
    slots: int = 8,
    slot_ms: float = 20.0,
    rng: random.Random,
    error_percent: float = 0.0,
    open_model: bool = False,
) -> tuple[dict[tuple[str, str], cs.EndpointSample], int]:
    """One second of a K-slot target at ``load`` users (or iterations/s): samples and drops."""
    capacity = slots * 1000.0 / slot_ms
    if open_model:
        served = min(load, capacity)
        latency = slot_ms * (1.0 if load <= capacity else 1.0 + 5.0 * (load / capacity - 1.0) * 10)
        dropped = max(0, int(load - capacity))
    else:
        latency = max(slot_ms, load * slot_ms / slots)
        served = min(load * 1000.0 / slot_ms, capacity)
        dropped = 0
    n = int(served)
    hist = Histogram()
    failures = 0
    for _ in range(n):
        hist.record_ms(latency * rng.uniform(0.97, 1.03))
        if rng.random() * 100 < error_percent:
            failures += 1
    return {KEY: cs.EndpointSample(n, failures, hist)}, dropped


def run_search(
    config: cs.SearchConfig, *, max_seconds: int = 2000, seed: int = 1, **target: object
) -> cs.CapacitySearch:
    rng = random.Random(seed)
    search = cs.CapacitySearch(config)
    t = 0
    while not search.done and t < max_seconds:
        sample, dropped = slots_second(search.load, rng=rng, **target)  # type: ignore[arg-type]
        search.feed(t, sample, dropped=dropped)
        t += 1
    return search


def slo(text: str, **kw: object) -> cs.SearchConfig:
    defaults: dict[str, object] = {
        "model": cs.USERS,
        "start": 2,
        "ceiling": 200,
        "budget_seconds": 600,
        "objective": tuple(parse_thresholds(text)),
        "min_step_seconds": 3,
    }
    defaults.update(kw)
    return cs.SearchConfig(**defaults)  # type: ignore[arg-type]


def test_it_finds_the_users_that_meet_a_latency_slo_within_the_precision() -> None:
    # 8 slots × 20 ms: latency is N·2.5 ms above 8 users; p95 < 50 ms holds up to 19 users.
    search = run_search(slo("p95 < 50 ms"))
    assert search.outcome is not None and search.outcome.status == cs.FOUND
    low, high = search.outcome.low, search.outcome.high
    assert low is not None and high is not None
    assert low <= 19 < high
    assert (high - low) / low <= 0.10 or high - low == 1
    loads = [d.load for d in search.decisions]
    assert loads[:5] == [2, 4, 8, 16, 32]  # geometric growth while passing
    assert [d.phase for d in search.decisions][:5] == ["grow"] * 5
    assert all(d.phase == "bisect" for d in search.decisions[5:])
    assert search.decisions[-1].next_load is None


def test_every_decision_says_its_numbers_and_why() -> None:
    search = run_search(slo("p95 < 50 ms\nerror_rate < 1%"))
    first_fail = next(d for d in search.decisions if not d.passed)
    assert first_fail.load == 32
    assert first_fail.p95_ms is not None and first_fail.p95_ms > 50
    assert "p95 < 50 ms broken" in first_fail.reason
    assert f"{first_fail.checks[0].observed:.1f} ms" in first_fail.reason
    passed = search.decisions[0]
    assert passed.passed and passed.reason.startswith("met p95 < 50 ms: 20.")
    assert passed.requests == 100 * (passed.end_t - passed.start_t + 1)
    assert passed.goodput == pytest.approx(100.0, rel=0.02)  # 2 users × 1000/20 ms
    as_dict = passed.to_dict()
    assert as_dict["checks"][0]["label"] == "p95 < 50 ms"
    assert as_dict["checks"][0]["low"] <= as_dict["checks"][0]["observed"] <= as_dict["checks"][0]["high"]


def test_until_throughput_stops_growing_finds_the_knee() -> None:
    # Throughput rises linearly up to K = 8 users, then stays flat.
    search = run_search(slo("", start=1))
    assert search.config.throughput_objective
    assert search.outcome is not None and search.outcome.status == cs.FOUND
    assert search.outcome.low == 8 and search.outcome.high == 9
    flat = search.fails[9]
    assert "throughput grows" in flat.reason


def test_a_target_failing_at_the_start_load_is_answered_clearly() -> None:
    search = run_search(slo("p95 < 10 ms", start=4))
    assert search.outcome is not None and search.outcome.status == cs.BELOW_START
    assert len(search.decisions) == 1
    text = cs.answer(search.config, [d.to_dict() for d in search.decisions], search.outcome.to_dict())
    assert text.startswith("Capacity is below the start load: 4 users already broke the SLO p95 < 10 ms")
    assert "Start lower." in text


def test_a_target_that_never_fails_below_the_ceiling_is_answered_clearly() -> None:
    search = run_search(slo("p95 < 5000 ms", ceiling=20))
    assert search.outcome is not None and search.outcome.status == cs.ABOVE_CEILING
    assert [d.load for d in search.decisions] == [2, 4, 8, 16, 20]
    text = cs.answer(search.config, [d.to_dict() for d in search.decisions], search.outcome.to_dict())
    assert "the ceiling of 20 users never broke it: capacity is at least that" in text


def test_a_target_that_errors_out_is_answered_clearly() -> None:
    search = run_search(slo("p95 < 500 ms"), error_percent=100.0)
    assert search.outcome is not None and search.outcome.status == cs.ERRORS
    text = cs.answer(search.config, [d.to_dict() for d in search.decisions], search.outcome.to_dict())
    assert text.startswith("No capacity: at the start load of 2 users no request succeeded")


def test_an_error_rate_slo_fails_a_step_with_too_many_errors() -> None:
    search = run_search(slo("error_rate < 1%"), error_percent=5.0)
    assert search.outcome is not None and search.outcome.status == cs.BELOW_START
    first = search.decisions[0]
    assert first.error_rate is not None and first.error_rate > 1
    assert f"error_rate < 1% broken: {first.error_rate:.2f}%" in first.reason


def test_the_budget_bounds_the_search_and_the_answer_says_so() -> None:
    search = run_search(slo("p95 < 50 ms", budget_seconds=22))
    assert search.outcome is not None and search.outcome.status == cs.BUDGET
    assert search.decisions[-1].end_t < 22
    text = cs.answer(search.config, [d.to_dict() for d in search.decisions], search.outcome.to_dict())
    assert "time budget" in text


def test_a_step_holds_for_the_minimum_length_and_settles_first() -> None:
    search = run_search(slo("p95 < 50 ms", min_step_seconds=4, settle_seconds=2))
    first, second = search.decisions[:2]
    assert first.start_t == 2 and first.end_t == 5  # seconds 0–1 settle, 2–5 judged
    assert second.start_t == first.end_t + 1 + 2


def test_a_step_without_enough_requests_holds_until_the_longest_step_length() -> None:
    config = slo("p95 < 500 ms", start=20, ceiling=20, max_step_seconds=7, min_requests=10**9)
    search = run_search(config)
    assert search.decisions[0].decided_by == "max_step"
    assert search.decisions[0].end_t - search.decisions[0].start_t + 1 == 7
    assert "longest step length" in search.decisions[0].reason


def test_a_clear_failure_is_decided_at_the_minimum_length() -> None:
    search = run_search(slo("p95 < 10 ms", start=50, ceiling=100, min_step_seconds=3))
    assert search.decisions[0].decided_by == "interval"
    assert search.decisions[0].end_t == 1 + 3 - 1


def test_applied_delays_the_step_until_the_load_landed() -> None:
    search = cs.CapacitySearch(slo("p95 < 50 ms"))
    rng = random.Random(0)
    search.applied(5)
    sample, _ = slots_second(search.load, rng=rng)
    for t in range(6):
        assert search.feed(t, sample) is None
    assert search.step.seconds == 0
    for t in range(6, 9):
        search.feed(t, slots_second(search.load, rng=rng)[0])
    assert search.decisions and search.decisions[0].start_t == 6


def test_users_grow_by_at_least_one_and_stop_at_the_ceiling() -> None:
    search = run_search(slo("p95 < 5000 ms", start=1, ceiling=3, growth=1.2))
    assert [d.load for d in search.decisions] == [1, 2, 3]


def test_an_arrival_rate_search_fails_steps_that_drop_iterations() -> None:
    # 8 slots × 20 ms serve 400 iterations/s.
    config = slo("p95 < 100 ms", model=cs.RATE, start=50, ceiling=2000)
    search = run_search(config, open_model=True)
    assert search.outcome is not None and search.outcome.status == cs.FOUND
    low, high = search.outcome.low, search.outcome.high
    assert low is not None and high is not None
    assert low <= 400 < high and (high - low) / low <= 0.10
    failing = search.fails[high]
    assert "dropped iterations < 1% broken" in failing.reason or "p95" in failing.reason


def test_an_endpoint_threshold_judges_that_endpoint_only() -> None:
    search = run_search(slo("GET /other: p95 < 1 ms", ceiling=4))
    first = search.decisions[0]
    assert not first.passed
    assert "no request to measure" in first.reason


def test_stop_decides_the_current_step_and_ends_the_search() -> None:
    search = cs.CapacitySearch(slo("p95 < 50 ms"))
    rng = random.Random(0)
    for t in range(1, 3):
        search.feed(t, slots_second(search.load, rng=rng)[0])
    decision = search.stop(3)
    assert decision is not None and decision.decided_by == "stopped"
    assert search.outcome is not None and search.outcome.status == cs.STOPPED
    assert search.feed(4, slots_second(2, rng=rng)[0]) is None


def test_a_step_without_any_completed_request_fails() -> None:
    search = cs.CapacitySearch(slo("p95 < 50 ms", max_step_seconds=4))
    for t in range(0, 6):
        search.feed(t, {})
    assert search.decisions[0].reason.startswith("no request completed in 4 s")
    assert search.outcome is not None and search.outcome.status == cs.ERRORS


def test_the_answer_names_capacity_what_broke_it_and_the_bracket() -> None:
    search = run_search(slo("p95 < 50 ms"))
    text = cs.answer(search.config, [d.to_dict() for d in search.decisions], search.outcome.to_dict())  # type: ignore[union-attr]
    low = search.passes[search.outcome.low]  # type: ignore[union-attr, index]
    high = search.fails[search.outcome.high]  # type: ignore[union-attr, index]
    assert text.startswith(
        f"Capacity: {low.load:.0f} users / {low.goodput:.0f} req/s at p95 {low.p95_ms:.0f} ms "
        "(SLO p95 < 50 ms); "
        f"{high.load:.0f} users broke it (p95 < 50 ms broken: "
    )
    assert f"between {low.load:.0f} and {high.load:.0f} users (bracket " in text


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="start load"):
        cs.CapacitySearch(slo("p95 < 50", start=0))
    with pytest.raises(ValueError, match="start load"):
        cs.CapacitySearch(slo("p95 < 50", start=10, ceiling=5))


def test_the_intervals_contain_their_estimates_and_narrow_with_more_data() -> None:
    hist = Histogram()
    rng = random.Random(3)
    for _ in range(200):
        hist.record_ms(rng.uniform(10, 30))
    est, low, high = cs._percentile_interval(hist, 95)
    assert low <= est <= high
    for _ in range(20000):
        hist.record_ms(rng.uniform(10, 30))
    est2, low2, high2 = cs._percentile_interval(hist, 95)
    assert high2 - low2 < high - low
    rate, lo, hi = cs._wilson(5, 1000)
    assert lo < rate == 0.5 < hi


# -- the profile kinds and the protocol message ----------------------------------------------------
def test_search_profiles_validate_and_plan_their_envelope() -> None:
    from runs.core import profiles

    params = profiles.validate_profile(
        "search_users", {"objective": " p95 < 50ms ", "start_users": "2", "ceiling_users": 40, "budget": 60}
    )
    assert params == {
        "objective": "p95 < 50ms",
        "start_users": 2,
        "ceiling_users": 40,
        "budget": 60,
        "min_step": 5,
        "max_step": 30,
        "growth": 2.0,
    }
    plan = profiles.build_plan("search_users", params)
    assert plan.duration == 60 and plan.peak_users == 40 and not plan.is_open
    assert [(s.duration, s.users) for s in plan.stages] == [
        (6, 2),
        (6, 4),
        (6, 8),
        (6, 16),
        (6, 32),
        (30, 40),
    ]
    config = cs.config_from_params(params, open_model=False)
    assert (config.model, config.start, config.ceiling, config.budget_seconds) == (cs.USERS, 2, 40, 60)
    assert config.objective_label() == "p95 < 50 ms"

    rate = profiles.validate_profile(
        "search_rate", {"start_rate": 20, "ceiling_rate": 100, "max_in_flight": 50, "budget": 30}
    )
    plan = profiles.build_plan("search_rate", rate)
    assert plan.is_open and plan.max_in_flight == 50 and plan.duration == 30
    assert profiles.is_open_model("search_rate") and profiles.is_search("search_rate")
    assert cs.config_from_params(rate, open_model=True).throughput_objective


def test_bad_search_profiles_are_refused_by_field() -> None:
    from runs.core import profiles

    with pytest.raises(profiles.ProfileError) as info:
        profiles.validate_profile(
            "search_users",
            {"objective": "p95 <", "start_users": 5, "ceiling_users": 2, "budget": 30, "growth": 1},
        )
    assert set(info.value.errors) == {"objective", "ceiling_users", "growth"}
    assert "not a threshold" in info.value.errors["objective"]
    with pytest.raises(profiles.ProfileError) as info:
        profiles.validate_profile(
            "search_users", {"start_users": 1, "ceiling_users": 10**6, "budget": 3}, max_users=100
        )
    assert info.value.errors["ceiling_users"] == "Must be at most 100 users."
    with pytest.raises(profiles.ProfileError) as info:
        profiles.validate_profile("search_users", {"start_users": 1, "ceiling_users": 10, "budget": 10**6})
    assert "maximum" in info.value.errors["duration"]  # the budget is bounded by the run-time cap
    with pytest.raises(profiles.ProfileError) as info:
        profiles.validate_profile("search_users", {"start_users": 1, "ceiling_users": 10, "budget": 4})
    assert "at least one step" in info.value.errors["budget"]


def test_a_decision_goes_through_the_protocol_unchanged() -> None:
    from runs.core.engine import protocol

    search = run_search(slo("p95 < 50 ms"))
    decision = search.decisions[-1].to_dict()
    assert search.outcome is not None
    line = protocol.encode(protocol.SearchMessage(decision, search.outcome.to_dict()))
    message = protocol.parse_line(line)
    assert isinstance(message, protocol.SearchMessage)
    assert message.decision == decision and message.outcome == search.outcome.to_dict()
    with pytest.raises(protocol.ProtocolError, match="decision.passed"):
        protocol.parse_line(protocol.encode(protocol.SearchMessage({**decision, "passed": "yes"})))
    ended = protocol.parse_line(protocol.encode(protocol.SearchMessage(None, search.outcome.to_dict())))
    assert isinstance(ended, protocol.SearchMessage) and ended.decision is None
    with pytest.raises(protocol.ProtocolError, match="a decision or an outcome"):
        protocol.parse_line(protocol.encode(protocol.SearchMessage(None, None)))
    with pytest.raises(protocol.ProtocolError, match="unknown search status"):
        protocol.parse_line(
            protocol.encode(protocol.SearchMessage(decision, {"status": "maybe", "message": ""}))
        )


def test_two_searches_are_compared_by_their_brackets() -> None:
    def steps(*loads: tuple[float, bool]) -> list[dict[str, object]]:
        return [{"load": load, "passed": passed} for load, passed in loads]

    reference = steps((8, True), (16, False), (12, True), (14, False))
    lower = cs.search_change(reference, steps((8, True), (12, False), (10, True), (11, False)), unit="users")
    assert lower is not None and lower["verdict"] == "lower" and lower["change"] == pytest.approx(10 / 12 - 1)
    higher = cs.search_change(reference, steps((16, True), (32, False), (20, False)), unit="users")
    assert higher is not None and higher["verdict"] == "higher"
    same = cs.search_change(reference, steps((8, True), (16, False), (13, True), (14, False)), unit="users")
    assert same is not None and same["verdict"] == "no significant change"
    assert same["sentence"].startswith("Capacity 13 users against 12 users (+8%); the brackets overlap")
    assert cs.search_change(reference, steps((8, False)), unit="users") is None
