#!/usr/bin/env python3
"""Django's command-line utility, plus a bootstrap so `python3 manage.py up` works on a fresh clone.

When Django is not importable (a fresh clone), this creates ./.venv with a Python >= 3.12
(Django 6 needs it), installs requirements-dev.txt (requirements.txt plus the linters) into it
and re-runs the same command there. The venv is refreshed whenever either file changes.
"""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _bootstrap() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_st_bootstrap", BASE_DIR / "scaletest_site" / "bootstrap.py"
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"Cannot load {BASE_DIR / 'scaletest_site' / 'bootstrap.py'}.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.ensure_venv_and_reexec(BASE_DIR, sys.argv)


def main() -> None:
    if os.environ.get("SCALETEST_NO_BOOTSTRAP") != "1":
        _bootstrap()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scaletest_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
