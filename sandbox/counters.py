"""What the sandbox saw: per vendor and per store, for tests and benchmarks.

Only the server's event loop thread touches these, so no locks.

Open browser pages are also integrated over time: `busy_seconds` is page-seconds (two pages open
for 3 s count 6), and `seconds_at` how long exactly n pages were open, so a benchmark measures a
browser pool's utilisation where the pages are served instead of trusting the clients' account.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

COUNTS = (
    "requests",
    "accepted",
    "rate_limited",
    "server_errors",
    "pages",
    "logins",
    "login_failures",
    "hangs",
    "delayed",
    "saves_dropped",
    "saves",
    "saves_unchanged",
    "over_limit",
)


class Counters:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.vendors: dict[str, Counter[str]] = defaultdict(Counter)
        self.stores: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        # Epoch times of the calls the rate limiter accepted, per vendor.
        self.accepted_times: dict[str, list[float]] = defaultdict(list)
        # Open browser pages (presence sockets): now and peak, globally, per store, per vendor.
        self.sessions_now: Counter[str] = Counter()
        self.sessions_peak: Counter[str] = Counter()
        self._sockets: Counter[tuple[str, str]] = Counter()  # (key, tab) → open sockets
        # Page-seconds per key, settled up to `_settled[key]` (clock time) at each change.
        self.busy_seconds: defaultdict[str, float] = defaultdict(float)
        self.seconds_at: defaultdict[int, float] = defaultdict(float)  # pages open → seconds
        self.started = self.clock()
        self._settled: dict[str, float] = {}

    def count(self, vendor: str, store: str, what: str, n: int = 1) -> None:
        self.vendors[vendor][what] += n
        self.stores[store][vendor][what] += n

    def accepted(self, vendor: str, store: str) -> None:
        self.count(vendor, store, "accepted")
        self.accepted_times[vendor].append(time.time())

    def page_opened(self, vendor: str, store: str, tab: str) -> None:
        """A page's presence socket opened. Counted per browser tab: while a tab navigates, the
        next page's socket may open before the last one's closes, and that is still one page."""
        now = self.clock()
        for key in ("*", f"store:{store}", f"vendor:{vendor}"):
            self._sockets[key, tab] += 1
            if self._sockets[key, tab] == 1:
                self._settle(key, now)
                self.sessions_now[key] += 1
                self.sessions_peak[key] = max(self.sessions_peak[key], self.sessions_now[key])

    def page_closed(self, vendor: str, store: str, tab: str) -> None:
        now = self.clock()
        for key in ("*", f"store:{store}", f"vendor:{vendor}"):
            if self._sockets[key, tab] <= 0:  # opened before a reset of the counters
                del self._sockets[key, tab]
                continue
            self._sockets[key, tab] -= 1
            if self._sockets[key, tab] == 0:
                del self._sockets[key, tab]
                self._settle(key, now)
                self.sessions_now[key] -= 1

    def _settle(self, key: str, now: float) -> None:
        """Add the page-seconds of `key` since it last changed (or since the reset)."""
        elapsed = now - self._settled.get(key, self.started)
        self.busy_seconds[key] += self.sessions_now[key] * elapsed
        if key == "*":
            self.seconds_at[self.sessions_now[key]] += elapsed
        self._settled[key] = now

    def _sessions(self, prefix: str) -> dict[str, dict[str, Any]]:
        return {
            key.removeprefix(prefix): {
                "now": self.sessions_now[key],
                "peak": peak,
                "busy_seconds": round(self.busy_seconds[key], 3),
            }
            for key, peak in self.sessions_peak.items()
            if key.startswith(prefix)
        }

    def snapshot(self, *, detail: bool = False) -> dict[str, Any]:
        now = self.clock()
        for key in {"*", *self.sessions_peak}:
            self._settle(key, now)
        data: dict[str, Any] = {
            "vendors": {v: _full(c) for v, c in self.vendors.items()},
            "stores": {
                s: {v: _full(c) for v, c in by_vendor.items()}
                for s, by_vendor in self.stores.items()
            },
            "sessions": {
                "now": self.sessions_now["*"],
                "peak": self.sessions_peak["*"],
                "busy_seconds": round(self.busy_seconds["*"], 3),
                "seconds_at": {str(n): round(t, 3) for n, t in sorted(self.seconds_at.items())},
                "seconds": round(now - self.started, 3),
                "stores": self._sessions("store:"),
                "vendors": self._sessions("vendor:"),
            },
        }
        if detail:
            data["accepted_times"] = {v: list(t) for v, t in self.accepted_times.items()}
        return data

    def rate_summary(self) -> dict[str, dict[str, Any]]:
        """Per vendor: calls accepted, first and last time, and the most in any 60 s window."""
        summary = {}
        for vendor, times in self.accepted_times.items():
            summary[vendor] = {
                "accepted": len(times),
                "first": times[0] if times else None,
                "last": times[-1] if times else None,
                "max_in_60s": most_in_window(times, 60),
            }
        return summary


def most_in_window(times: list[float], width: float) -> int:
    """The most of `times` (sorted) in any window of `width` seconds: what a rate limit allows."""
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


def _full(counter: Counter[str]) -> dict[str, int]:
    return {name: counter[name] for name in COUNTS}
