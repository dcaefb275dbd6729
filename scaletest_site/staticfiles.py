"""Static files as WhiteNoise intends: collected once, content-hashed, compressed, cached for good.

Pages reference Plotly and the app's CSS and JS by content-hashed names
(``plotly-basic.min.4c3a2e1b9f0d.js``) that WhiteNoise serves with ``Cache-Control: max-age=<10
years>, public, immutable``, as brotli (or gzip) when the browser accepts it: Plotly's basic
bundle is 1.2 MB, 0.33 MB on the wire, once per browser and Plotly version. That needs a
collection (``collectstatic``) into STATIC_ROOT: the Docker image does it at build time,
``manage.py up`` at start through ``static_collect``, which skips the work when the collected
set already matches the sources.

``StaticStorage`` is WhiteNoise's ``CompressedManifestStaticFilesStorage`` with three changes
that keep a collection cheap without changing what a browser gets:

* only the hashed copies are compressed: templates link nothing else (the unhashed originals
  stay for code that builds static URLs at run time, such as the admin's icons);
* source maps (``.map``, 5 MB of the API docs' JavaScript) are not compressed: only developer
  tools fetch them;
* a hashed file's compressed copies are reused when they exist: its name carries the hash of
  its content, so they cannot be stale. They are written atomically, so a collection that was
  killed leaves no truncated copy behind.

Brotli at WhiteNoise's default quality (11) costs about 2.7 s of CPU per MB (4 MB to compress
here); reusing compressed copies means a checkout pays that once, not on every start.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.apps import StaticFilesConfig
from django.core.management import call_command
from whitenoise.compress import Compressor, brotli_installed
from whitenoise.storage import CompressedManifestStaticFilesStorage

MANIFEST_NAME = "staticfiles.json"  # ManifestFilesMixin.manifest_name
# Not compressed: only browser developer tools fetch source maps.
UNCOMPRESSED_SUFFIXES = (".map",)


class AtomicCompressor(Compressor):
    """WhiteNoise's compressor, writing each ``.br``/``.gz`` through a temporary file."""

    def write_data(self, path: str, data: bytes, suffix: str, stat_result: os.stat_result) -> str:
        filename = path + suffix
        partial = f"{filename}.{os.getpid()}.partial"
        with open(partial, "wb") as f:
            f.write(data)
        os.utime(partial, (stat_result.st_atime, stat_result.st_mtime))
        os.replace(partial, filename)
        return filename


class StaticStorage(CompressedManifestStaticFilesStorage):
    """See the module docstring."""

    def create_compressor(self, **kwargs: Any) -> Compressor:
        return AtomicCompressor(**kwargs)

    def compress_files(self, paths: Iterable[str]) -> Iterator[tuple[str, str]]:
        hashed = set(self.hashed_files.values())
        todo = [
            path
            for path in paths
            if path in hashed and not path.endswith(UNCOMPRESSED_SUFFIXES) and not self._compressed(path)
        ]
        yield from super().compress_files(todo)

    def _compressed(self, name: str) -> bool:
        full = self.path(name)
        # Brotli comes first and gzip last (Compressor.compress): a .gz means the file is done.
        return os.path.exists(full + ".gz") and (not brotli_installed or os.path.exists(full + ".br"))


# -- collecting once ----------------------------------------------------------------------------
def static_fingerprint() -> str:
    """A hash of everything a collection depends on: each file the finders list (name and
    content), the static settings, this module and the versions of the code that hashes and
    compresses. Reading the sources (about 12 MB) takes tens of milliseconds."""
    digest = hashlib.sha256()
    versions = [f"{name}=={importlib.metadata.version(name)}" for name in ("django", "whitenoise")]
    versions.append(f"brotli=={importlib.metadata.version('brotli') if brotli_installed else 'none'}")
    for part in (
        settings.STATIC_URL,
        settings.STORAGES["staticfiles"]["BACKEND"],
        *versions,
        Path(__file__).read_text(),
    ):
        digest.update(str(part).encode() + b"\0")
    ignore = cast(StaticFilesConfig, apps.get_app_config("staticfiles")).ignore_patterns
    listed: list[tuple[str, Any, str]] = []
    for finder in finders.get_finders():
        for path, storage in finder.list(ignore):
            prefix = getattr(storage, "prefix", None) or ""
            listed.append((os.path.join(prefix, path), storage, path))
    # Sorted by name, as directory listings come in no fixed order; the sort is stable, so two
    # files of one name stay in finder order (the first one is the one collected).
    for prefixed, storage, path in sorted(listed, key=lambda item: item[0]):
        digest.update(prefixed.encode() + b"\0")
        with storage.open(path) as f:
            digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()


def _fingerprint_path(root: Path) -> Path:
    # Beside STATIC_ROOT, not in it: WhiteNoise serves every file in STATIC_ROOT.
    return root.with_name(root.name + ".fingerprint")


def static_is_current(*, fingerprint: str | None = None) -> bool:
    """True when STATIC_ROOT holds a complete collection of the current sources."""
    root = Path(settings.STATIC_ROOT)
    stamp = _fingerprint_path(root)
    manifest = root / MANIFEST_NAME
    if not stamp.exists() or not manifest.exists():
        return False
    if stamp.read_text().strip() != (fingerprint or static_fingerprint()):
        return False
    try:
        paths = json.loads(manifest.read_text())["paths"]
    except (ValueError, KeyError):
        return False
    return all((root / hashed).exists() for hashed in paths.values())


def static_collect(*, log: Callable[[str], Any] | None = None) -> bool:
    """Collect static files into STATIC_ROOT unless they are current; True when it collected.

    Processes that share a STATIC_ROOT (``up`` and a test session in one checkout) take turns
    through a lock file. A collection adds to what is there and never deletes: a server that
    is already running keeps every file it indexed at its start.
    """
    root = Path(settings.STATIC_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(root.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fingerprint = static_fingerprint()
        if static_is_current(fingerprint=fingerprint):
            return False
        if log:
            log(f"Collecting static files into {root} (hashed, compressed; once per change of them)...")
        started = time.monotonic()
        call_command("collectstatic", interactive=False, verbosity=0)
        stamp = _fingerprint_path(root)
        partial = stamp.with_name(f"{stamp.name}.{os.getpid()}.partial")
        partial.write_text(fingerprint)
        os.replace(partial, stamp)
        if log:
            log(f"Collected static files in {time.monotonic() - started:.1f} s.")
        return True
