"""The page tests' fixtures, for the static-file tests that load pages (a conftest, so the test
module's parameters do not redefine imported names)."""

from __future__ import annotations

from tests.pages.conftest import alice_client, finished_run, seeded_plan  # noqa: F401 (fixtures)
from tests.pages.test_analysis_pages import staircase_plan  # noqa: F401 (fixture)
