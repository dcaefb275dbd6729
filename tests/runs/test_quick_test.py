"""The quick test's pure parts: a URL split into base URL, path and query, and the load shapes."""

from __future__ import annotations

import pytest

from runs.core import profiles
from runs.services.quick_test import QuickTest, QuickTestError, profile_params, url_split


def test_a_url_splits_into_the_targets_base_and_the_steps_path_and_query() -> None:
    split = url_split("HTTPS://Shop.example.com:8443/api/items?page=2&tag=a&tag=b&empty=")
    assert split.base_url == "https://Shop.example.com:8443"
    assert split.path == "/api/items"
    assert split.query == {"page": "2", "tag": ["a", "b"], "empty": ""}
    assert url_split("http://127.0.0.1:8089").path == "/"


def test_each_shape_becomes_a_valid_profile_of_the_asked_users_and_duration() -> None:
    kind, params = profile_params(QuickTest(url="http://x", method="GET", users=10, duration=60))
    assert (kind, params["users"], params["duration"]) == ("constant", 10, 60)
    kind, params = profile_params(
        QuickTest(url="http://x", method="GET", users=10, duration=60, shape="ramp")
    )
    plan = profiles.build_plan(kind, params)
    assert (kind, plan.start_users, plan.peak_users, plan.duration) == ("ramp", 0, 10, 60)
    kind, params = profile_params(
        QuickTest(url="http://x", method="GET", users=10, duration=60, shape="staircase", steps=3)
    )
    plan = profiles.build_plan(kind, params)
    # 10 users in 3 steps: 4, 7, 10 (the first step takes the remainder); 20 s each.
    assert kind == "staircase"
    assert [s.users for s in plan.stages] == [4, 7, 10]
    assert plan.duration == 60


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (dict(users=3, duration=60, shape="staircase", steps=5), "steps", "at least 5 users"),
        (dict(users=10, duration=3, shape="staircase", steps=5), "steps", "at least 5 seconds"),
        (dict(users=10, duration=60, shape="zigzag"), "shape", "Choose one of"),
    ],
)
def test_impossible_shapes_say_which_field_and_what_to_change(
    spec: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(QuickTestError, match=words) as caught:
        profile_params(QuickTest(url="http://x", method="GET", **spec))  # type: ignore[arg-type]
    assert caught.value.field == field
