"""The linters `manage.py test` runs before its test passes (pinned in requirements-dev.txt).

Each runs in the project's root with the configuration it reads there: ``ruff check .`` and
``ruff format --check .`` (``[tool.ruff]`` in pyproject.toml), ``mypy`` with the django-stubs
plugin over the files ``[tool.mypy]`` lists, and ``lint-imports`` with the contracts in
``.importlinter`` (only when that file exists). Every linter runs even after one has failed, so
one CI log shows every finding; the caller decides what a failure stops.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

IMPORT_CONTRACTS = ".importlinter"


@dataclass(frozen=True)
class Linter:
    name: str  # the command as a person would type it
    module: str  # the package that provides it (requirements-dev.txt)
    argv: tuple[str, ...]  # what to run, in the project's root


@dataclass(frozen=True)
class LintResult:
    name: str
    code: int  # the linter's exit code; 0 = no findings
    seconds: float


def _script(name: str) -> str:
    """A console script installed next to this interpreter (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else name


def linters(base_dir: Path) -> list[Linter]:
    python = sys.executable
    found = [
        Linter("ruff check .", "ruff", (python, "-m", "ruff", "check", ".")),
        Linter("ruff format --check .", "ruff", (python, "-m", "ruff", "format", "--check", ".")),
        Linter("mypy", "mypy", (python, "-m", "mypy")),
    ]
    if (base_dir / IMPORT_CONTRACTS).exists():
        found.append(Linter("lint-imports", "importlinter", (_script("lint-imports"),)))
    return found


def run_linters(base_dir: Path, log: str = "[scaletest test]") -> list[LintResult]:
    """Run every linter in ``base_dir``, printing its findings; one result per linter."""
    results: list[LintResult] = []
    for linter in linters(base_dir):
        if importlib.util.find_spec(linter.module) is None:
            print(
                f"{log} lint: {linter.name}: not installed; it comes with requirements-dev.txt "
                "(python3 manage.py installs it into .venv)",
                flush=True,
            )
            results.append(LintResult(linter.name, 1, 0.0))
            continue
        print(f"{log} lint: {linter.name}", flush=True)
        started = time.monotonic()
        code = subprocess.call(list(linter.argv), cwd=base_dir)
        results.append(LintResult(linter.name, code, time.monotonic() - started))
    return results
