"""Serve plotly.min.js from the installed plotly package (offline: no CDN, no vendored copy).

A finder that exposes that one file as ``vendor/plotly/plotly.min.js``; pointing
STATICFILES_DIRS at the package folder would also publish its datasets and templates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

STATIC_PATH = "vendor/plotly/plotly.min.js"


def plotly_js_dir() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(plotly_js_dir()))
        self.storage.prefix = "vendor/plotly"

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        if path == STATIC_PATH:
            found = str(plotly_js_dir() / "plotly.min.js")
            return [found] if (find_all or kwargs.get("all")) else found
        return [] if (find_all or kwargs.get("all")) else ""

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        yield "plotly.min.js", self.storage
