"""The real ScaleTest child (runs.core.engine.child) with a tap: every raw response time Locust
hands to the child's recorder is also kept, and written to $BENCH_TAP (ms, one per line)
just before the child exits. The fidelity benchmark compares the percentiles ScaleTest
stores (exact histograms, merged by the parent) with exact percentiles of these samples.

Only for bench/fidelity.py, which makes runs.engine.runner spawn this instead of
``python -m runs.core.engine.child``. Nothing else in the child changes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The package imports Locust first, as the real child does.
from runs.core.engine.child import main as entry  # noqa: E402
from runs.core.engine.child import recorder  # noqa: E402

_samples: list[float] = []
_on_request = recorder.Recorder.on_request


def _tapped(
    self: recorder.Recorder,
    request_type: str,
    name: str,
    response_time: float | None,
    response_length: int | None,
    exception: BaseException | None = None,
    context: dict[str, Any] | None = None,
    response: Any = None,
    **kw: Any,
) -> None:
    _samples.append(response_time or 0.0)
    _on_request(self, request_type, name, response_time, response_length, exception, context, response, **kw)


recorder.Recorder.on_request = _tapped  # type: ignore[method-assign]
_real_exit = entry._exit


def _exit(code: int) -> None:
    import os

    with open(os.environ["BENCH_TAP"], "w") as f:
        f.write("\n".join(repr(x) for x in _samples))
    _real_exit(code)


entry._exit = _exit

if __name__ == "__main__":
    entry.main()
