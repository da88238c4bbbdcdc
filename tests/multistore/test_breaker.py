"""Circuit breakers: open after K failures, fail fast, one probe after the cool-down decides."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

import pytest

from multistore.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerPolicy,
    CircuitBreaker,
    CircuitOpenError,
    all_statuses,
    breaker,
    load_policies,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _fail(b: CircuitBreaker) -> None:
    with pytest.raises(ConnectionError), b.guard():
        raise ConnectionError("homenet down")


def test_opens_after_threshold_fails_fast_and_recovers():
    clock = Clock()
    b = CircuitBreaker(
        "homenet", policy=BreakerPolicy(threshold=3, cooldown_seconds=30), clock=clock
    )
    for _ in range(2):
        _fail(b)
    assert b.status().state == CLOSED
    _fail(b)
    status = b.status()
    assert (status.state, status.failures, status.times_opened) == (OPEN, 3, 1)
    assert "ConnectionError: homenet down" in status.last_error

    calls = []
    with pytest.raises(CircuitOpenError) as err, b.guard():
        calls.append(1)
    assert calls == []
    assert str(err.value) == "circuit open for homenet until 2026-11-23T12:00:30+00:00"

    clock.advance(30)
    with b.guard():
        calls.append(1)
    assert calls == [1]
    assert (b.status().state, b.status().failures) == (CLOSED, 0)


def test_a_success_resets_the_count():
    b = CircuitBreaker("dealercom", policy=BreakerPolicy(threshold=2, cooldown_seconds=5))
    _fail(b)
    with b.guard():
        pass
    _fail(b)
    assert b.status().state == CLOSED


def test_a_failed_probe_reopens_for_another_cooldown():
    clock = Clock()
    b = CircuitBreaker("vdp", policy=BreakerPolicy(threshold=1, cooldown_seconds=10), clock=clock)
    _fail(b)
    clock.advance(10)
    _fail(b)  # the probe
    status = b.status()
    assert (status.state, status.opened_until, status.times_opened) == (
        OPEN,
        clock.now + timedelta(seconds=10),
        2,
    )


def test_errors_that_do_not_count_leave_the_breaker_alone():
    b = CircuitBreaker("shortener", policy=BreakerPolicy(threshold=1, cooldown_seconds=5))
    with pytest.raises(KeyError), b.guard(counts=lambda exc: not isinstance(exc, KeyError)):
        raise KeyError("one vehicle")
    assert b.status().state == CLOSED


def _race_for_the_probe(url: str | None) -> list[bool]:
    clock = Clock()
    policy = BreakerPolicy(threshold=1, cooldown_seconds=5)
    CircuitBreaker("crm", policy=policy, clock=clock, url=url).record_failure("down")
    clock.advance(6)
    barrier = Barrier(8)

    def attempt(_: int) -> bool:
        b = CircuitBreaker("crm", policy=policy, clock=clock, url=url)
        barrier.wait()
        try:
            return b.before_call()
        except CircuitOpenError as exc:
            assert "a probe call is deciding" in str(exc)
            return False

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(attempt, range(8)))


def test_only_one_caller_wins_the_probe_on_sqlite():
    assert sum(_race_for_the_probe(None)) == 1
    assert CircuitBreaker("crm", policy=BreakerPolicy()).status().state == HALF_OPEN


@pytest.mark.postgres
def test_only_one_caller_wins_the_probe_on_postgres(pg_registry_url):
    assert sum(_race_for_the_probe(pg_registry_url)) == 1


def test_a_probe_that_never_reports_is_taken_over_after_a_cooldown():
    clock = Clock()
    policy = BreakerPolicy(threshold=1, cooldown_seconds=5)
    b = CircuitBreaker("dnc", policy=policy, clock=clock)
    b.record_failure("down")
    clock.advance(5)
    assert b.before_call() is True  # this probe's process then dies
    with pytest.raises(CircuitOpenError):
        b.before_call()
    clock.advance(5)
    assert b.before_call() is True


def test_policies_come_from_the_data_dir_file(isolated_settings):
    isolated_settings.mkdir(parents=True, exist_ok=True)
    (isolated_settings / "breakers.yaml").write_text(
        "breakers:\n  default: {threshold: 2}\n  homenet: {threshold: 1, cooldown_seconds: 0.5}\n"
    )
    assert breaker("homenet").policy == BreakerPolicy(threshold=1, cooldown_seconds=0.5)
    assert breaker("other").policy.threshold == 2
    _fail(breaker("homenet"))
    assert [s.service for s in all_statuses()] == ["homenet"]


def test_a_bad_policy_is_one_error_naming_file_and_service(tmp_path):
    path = tmp_path / "breakers.yaml"
    path.write_text("breakers:\n  homenet: {threshold: 0}\n")
    with pytest.raises(ValueError, match=r"breakers.yaml: breaker 'homenet': threshold"):
        load_policies(path)


def test_the_project_file_configures_every_inventory_service():
    policies = load_policies()
    assert {"homenet", "dealercom", "vdp", "shortener"} <= set(policies)


_INTERRUPTIONS = [asyncio.CancelledError, KeyboardInterrupt, SystemExit]
_COUNTS = {
    "every-exception-counts": lambda exc: True,
    "only-outages-count": lambda exc: isinstance(exc, ConnectionError),
}


@pytest.mark.parametrize("interruption", _INTERRUPTIONS)
@pytest.mark.parametrize("counts", list(_COUNTS.values()), ids=list(_COUNTS))
def test_an_interrupted_probe_reopens_for_an_immediate_new_probe(interruption, counts):
    clock = Clock()
    b = CircuitBreaker(
        "homenet", policy=BreakerPolicy(threshold=1, cooldown_seconds=10), clock=clock
    )
    _fail(b)
    clock.advance(10)
    with pytest.raises(interruption), b.guard(counts=counts):
        raise interruption()
    status = b.status()
    assert (status.state, status.opened_until, status.times_opened) == (OPEN, clock.now, 1)
    assert "ConnectionError: homenet down" in status.last_error
    assert b.before_call() is True  # the next caller probes without waiting another cool-down


@pytest.mark.parametrize("interruption", _INTERRUPTIONS)
@pytest.mark.parametrize("counts", list(_COUNTS.values()), ids=list(_COUNTS))
def test_an_interrupted_call_is_not_an_outcome(interruption, counts):
    b = CircuitBreaker("dealercom", policy=BreakerPolicy(threshold=2, cooldown_seconds=5))
    _fail(b)
    with pytest.raises(interruption), b.guard(counts=counts):
        raise interruption()
    assert (b.status().state, b.status().failures) == (CLOSED, 1)
    _fail(b)
    assert b.status().state == OPEN
