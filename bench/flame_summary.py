"""Summarise a py-spy ``-f raw`` (collapsed stacks) file: self and inclusive time per frame."""

from __future__ import annotations

import collections
import sys

self_t: collections.Counter[str] = collections.Counter()
incl: collections.Counter[str] = collections.Counter()
total = 0
with open(sys.argv[1]) as f:
    for line in f:
        stack, _, n = line.rstrip().rpartition(" ")
        count = int(n)
        frames = stack.split(";")
        total += count
        self_t[frames[-1]] += count
        for fr in set(frames):
            incl[fr] += count
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
print(f"samples: {total}")
for fr, n in self_t.most_common(top):
    print(f"  self {100 * n / total:5.1f}%  {fr}")
print("  -- inclusive --")
for fr, n in incl.most_common(200):
    if any(k in fr for k in ("on_request", "record_us", "send_second", "pop_second", "_drop", "log_request",
                             "RequestStats", "ResponseContextManager", "__exit__", "__enter__", "emit_",
                             "stats_history", "request (locust", "_send_request_safe_mode", "fire")):
        print(f"  incl {100 * n / total:5.1f}%  {fr}")
