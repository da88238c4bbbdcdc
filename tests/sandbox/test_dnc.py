"""The DNC scrub service: deterministic codes, atomic batches, a rate limit that holds."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx

from sandbox.data import is_nanp

KEY = {"X-API-Key": "sandbox-dnc-key"}


def scrub(base: str, numbers: list, **extra) -> httpx.Response:
    return httpx.post(f"{base}/dnc/scrub", headers=KEY, json={"numbers": numbers, **extra})


def sample_numbers(n: int) -> list[str]:
    return [
        f"{200 + i % 700:03d}{300 + (i * 7) % 600:03d}{(i * 7919) % 10000:04d}" for i in range(n)
    ]


def test_scrub_is_deterministic_with_a_realistic_mix(sandbox):
    numbers = sample_numbers(1000)
    first = scrub(sandbox.url, numbers).raise_for_status().json()["results"]
    again = scrub(sandbox.url, list(reversed(numbers))).json()["results"]
    assert first == list(reversed(again))
    assert [r["number"] for r in first] == numbers
    codes = Counter(r["code"] for r in first)
    assert codes["C"] > 500
    assert {"D", "P", "W", "E"} <= set(codes)
    reasons = {r["reason"] for r in first if r["code"] == "D"}
    assert any(r.startswith("National (USA) ") for r in reasons)
    assert any(r.startswith("State (") for r in reasons)
    invalid = [r for r in first if not is_nanp(r["number"])]
    assert invalid and all(r["code"] == "I" for r in invalid)


def test_batches_are_atomic_and_bad_input_is_400(sandbox):
    base = sandbox.url
    too_big = scrub(base, sample_numbers(1001))
    assert too_big.status_code == 400
    assert too_big.json()["error"] == "batch_too_large"
    bad = scrub(base, ["2135550142", "555-0142"])
    assert bad.status_code == 400
    assert "numbers[1]" in bad.json()["reason"]
    lenient = scrub(base, ["2135550142", "555-0142"], ignore_invalid=True).json()["results"]
    assert [r["code"] for r in lenient][1] == "I"
    assert httpx.post(f"{base}/dnc/scrub", headers=KEY, content=b"{nope").status_code == 400
    assert httpx.post(f"{base}/dnc/scrub", headers=KEY, json={"nums": []}).status_code == 400
    assert httpx.post(f"{base}/dnc/scrub", json={"numbers": []}).status_code == 401
    assert sandbox.admin.vendor_counts("dnc")["server_errors"] == 0


def test_rate_limit_holds_under_a_burst_from_several_threads(sandbox):
    sandbox.admin.set_limits(dnc={"per_minute": 60, "burst": 5})
    statuses: list[int] = []
    retry_after: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client() as http:
            for _ in range(6):
                r = http.post(
                    f"{sandbox.url}/dnc/scrub", headers=KEY, json={"numbers": ["2135550142"]}
                )
                with lock:
                    statuses.append(r.status_code)
                    if r.status_code == 429:
                        retry_after.append(r.headers["retry-after"])

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    ok, limited = statuses.count(200), statuses.count(429)
    assert ok + limited == 48
    # The bucket allows its burst plus one call per second of the test.
    assert 5 <= ok <= 5 + int(elapsed * 1) + 1
    assert all(int(v) >= 1 for v in retry_after)
    counts = sandbox.admin.vendor_counts("dnc")
    assert counts["rate_limited"] == limited
    assert counts["over_limit"] == limited  # every 429 here is the vendor's own limit
    assert counts["accepted"] == ok
    assert sandbox.admin.rate()["dnc"]["accepted"] == ok
