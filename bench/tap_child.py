"""The real ScaleTest child (runs.engine.child) with a tap: every raw response time Locust
hands to the child's recorder is also kept, and written to $BENCH_TAP (ms, one per line)
just before the child exits. The fidelity benchmark compares the percentiles ScaleTest
stores (exact histograms, merged by the parent) with exact percentiles of these samples.

Only for bench/fidelity.py, which makes runs.engine.runner spawn this instead of
``python -m runs.engine.child``. Nothing else in the child changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runs.engine import child  # noqa: E402  (imports Locust first, as the real child does)

_samples: list[float] = []
_on_request = child.Recorder.on_request


def _tapped(self, request_type, name, response_time, response_length, exception=None, **kw):  # type: ignore[no-untyped-def]
    _samples.append(response_time or 0.0)
    return _on_request(self, request_type, name, response_time, response_length, exception, **kw)


child.Recorder.on_request = _tapped  # type: ignore[method-assign,assignment]  # the tap, patched in
_real_exit = child._exit


def _exit(code: int) -> None:
    import os

    with open(os.environ["BENCH_TAP"], "w") as f:
        f.write("\n".join(repr(x) for x in _samples))
    _real_exit(code)


child._exit = _exit

if __name__ == "__main__":
    child.main()
