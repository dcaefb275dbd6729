"""Create and refresh the project's virtual environment, then re-run the command inside it.

It installs requirements-dev.txt (requirements.txt plus the linters the test command runs) and
installs again whenever requirements.txt or requirements-dev.txt changes.

Standard library only: this runs under whatever ``python3`` a newcomer has, before Django is
installed. It looks for a Python >= 3.12 on PATH, in pyenv and in common locations.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

MIN_VERSION = (3, 12)


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _version_ok(python: str) -> bool:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    if out.returncode != 0:
        return False
    major, minor = (int(x) for x in out.stdout.split())
    return (major, minor) >= MIN_VERSION


def find_python() -> str:
    candidates: list[str] = []
    if os.environ.get("SCALETEST_PYTHON"):
        candidates.append(os.environ["SCALETEST_PYTHON"])
    # 3.12 first: the version the project is developed and its image built with.
    for name in ("python3.12", "python3.13", "python3.14"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    if sys.version_info[:2] >= MIN_VERSION:
        candidates.append(sys.executable)
    for name in ("python3",):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for version_dir in sorted((pyenv_root / "versions").glob("3.1[2-9]*")):
        candidates.append(str(version_dir / "bin" / "python3"))
    for path in ("/usr/local/bin/python3.12", "/usr/bin/python3.12", "/usr/bin/python3.13"):
        candidates.append(path)
    for python in candidates:
        if Path(python).exists() and _version_ok(python):
            return python
    raise SystemExit(
        "ScaleTest needs Python 3.12 or newer (Django 6). Install one, or point SCALETEST_PYTHON at it."
    )


# requirements-dev.txt includes requirements.txt (-r) and adds the linters `manage.py test` runs:
# one install of it gives a fresh clone everything, for `up` and `test` alike.
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
INSTALLED = "requirements-dev.txt"


def requirements_digest(base_dir: Path) -> str:
    """One hash over every requirements file: a change to either refreshes the venv."""
    digest = hashlib.sha256()
    for name in REQUIREMENTS:
        digest.update(name.encode() + b"\0" + (base_dir / name).read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_venv_and_reexec(base_dir: Path, argv: list[str]) -> None:
    venv = Path(os.environ.get("SCALETEST_VENV", base_dir / ".venv"))
    python = _venv_python(venv)
    requirements = base_dir / INSTALLED
    digest = requirements_digest(base_dir)
    stamp = venv / ".requirements.sha256"
    in_venv = Path(sys.prefix).resolve() == venv.resolve()
    up_to_date = python.exists() and stamp.exists() and stamp.read_text().strip() == digest
    if in_venv and up_to_date:
        return
    if not up_to_date:
        if not python.exists():
            interpreter = find_python()
            print(f"[scaletest] creating {venv} with {interpreter}", flush=True)
            subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        print(f"[scaletest] installing {INSTALLED} (first run only) ...", flush=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "-r",
                str(requirements),
            ],
            check=True,
        )
        stamp.write_text(digest)
    os.execv(str(python), [str(python), *argv])
