"""The fixture's server starts and stops, even with a request hanging (the times are printed;
speed is measured in bench/, not asserted here)."""

from __future__ import annotations

import threading
import time

import httpx

from sandbox.config import SandboxConfig
from sandbox.faults import Fault
from sandbox.server import serve_in_thread


def test_starts_and_stops_quickly_even_with_a_hanging_request():
    started = time.monotonic()
    handle = serve_in_thread(SandboxConfig(faults=[Fault(vendor="dnc", hang_rate=1.0)]))
    up = time.monotonic() - started
    assert httpx.get(f"{handle.url}/admin/health").json()["ok"] is True
    outcome: list[object] = []

    def hanging_call() -> None:
        try:
            outcome.append(httpx.post(f"{handle.url}/dnc/scrub", json={}, timeout=30).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=hanging_call)
    caller.start()
    while handle.state.counters.vendors["dnc"]["hangs"] == 0:
        time.sleep(0.01)
    stopping = time.monotonic()
    handle.stop()
    down = time.monotonic() - stopping
    caller.join(5)
    print(f"sandbox start {up:.3f} s, stop {down:.3f} s (one request hanging)")
    assert not handle.thread.is_alive()
    assert outcome, "the hanging request was released when the server stopped"
