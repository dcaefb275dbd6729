"""Summarise a py-spy ``-f raw`` (collapsed stacks) file: self and inclusive time per frame.

A helper of bench/profile_generators.py (which prints its summary for each generator); it also
runs alone on any such file:

    .venv/bin/python bench/flame_summary.py /tmp/bench-profile-child.txt [top]
"""

from __future__ import annotations

import collections
import sys

# Frames of the request-recording path, shown with their inclusive share.
RECORDING = (
    "on_request",
    "record_us",
    "send_second",
    "pop_second",
    "_drop",
    "log_request",
    "RequestStats",
    "ResponseContextManager",
    "__exit__",
    "__enter__",
    "emit_",
    "stats_history",
    "request (locust",
    "_send_request_safe_mode",
    "fire",
)


def summarise(path: str) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """(samples, self samples per frame, inclusive samples per frame) of a collapsed-stacks file."""
    self_t: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            count = int(n)
            frames = stack.split(";")
            total += count
            self_t[frames[-1]] += count
            for fr in set(frames):
                incl[fr] += count
    return total, self_t, incl


def main() -> None:
    total, self_t, incl = summarise(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    if not total:
        raise SystemExit(f"{sys.argv[1]}: no samples")
    print(f"samples: {total}")
    for fr, n in self_t.most_common(top):
        print(f"  self {100 * n / total:5.1f}%  {fr}")
    print("  -- inclusive --")
    for fr, n in incl.most_common(200):
        if any(k in fr for k in RECORDING):
            print(f"  incl {100 * n / total:5.1f}%  {fr}")


if __name__ == "__main__":
    main()
