"""The call policy in one process: its stages in order, what each failure kind earns, what the
breaker counts, and what a guarded call costs in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import event

from multistore.breaker import BreakerPolicy, CircuitBreaker, CircuitOpenError
from multistore.calls import NO_POOLS, Caller, CallFailed, Kind, json_body
from multistore.clock import ManualClock
from multistore.db import get_engine
from multistore.retry import ServiceError


class RecordingPools:
    """Pools that say when a slot is taken and given back and when a rate token is spent."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        self.events.append(f"slot {name}")
        try:
            yield
        finally:
            self.events.append(f"release {name}")

    def throttle(self, name: str) -> None:
        self.events.append(f"rate {name}")


def _caller(events: list[str], *, clock: ManualClock | None = None, **options) -> Caller:
    clock = clock or ManualClock()
    breaker = CircuitBreaker(
        "svc", policy=BreakerPolicy(threshold=2, cooldown_seconds=30), clock=clock.now
    )
    options = {"pool": "api:svc", "rate": True, "attempts": 3, **options}
    return Caller(
        "svc", store="s1", pools=RecordingPools(events), breaker=breaker, clock=clock, **options
    )


def test_one_slot_per_call_a_rate_token_per_try_then_one_line() -> None:
    events: list[str] = []
    caller = _caller(events)
    answers = iter([CallFailed(Kind.OUTAGE, "first"), CallFailed(Kind.RATE_LIMITED, "2nd"), "ok"])

    def fn() -> str:
        answer = next(answers)
        events.append("call")
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert caller.call(fn) == "ok"
    assert events == [
        "slot api:svc",
        *["rate api:svc", "call"] * 3,
        "release api:svc",
    ]


def test_a_rejection_is_not_retried_and_not_counted() -> None:
    events: list[str] = []
    caller = _caller(events)
    for _ in range(3):
        with pytest.raises(ServiceError) as info:
            caller.call(lambda: _raise(CallFailed(Kind.REJECTED, "HTTP 404 on GET /x", status=404)))
    assert str(info.value) == "svc for store s1: HTTP 404 on GET /x"
    assert info.value.kind is Kind.REJECTED and info.value.status == 404
    assert events.count("rate api:svc") == 3  # one try each
    assert caller.breaker.status().state == "closed"


@pytest.mark.parametrize(
    ("kind", "opens"),
    [(Kind.OUTAGE, True), (Kind.MALFORMED, True), (Kind.LOCAL, False), (Kind.RATE_LIMITED, False)],
)
def test_what_the_breaker_counts(kind: Kind, opens: bool) -> None:
    caller = _caller([])
    for _ in range(2):
        with pytest.raises(ServiceError) as info:
            caller.call(lambda: _raise(CallFailed(kind, "went wrong")))
        assert str(info.value) == "svc for store s1: went wrong after 3 attempts"
    assert (caller.breaker.status().state == "open") is opens


def test_an_open_circuit_refuses_before_slot_rate_or_request_and_names_the_store() -> None:
    events: list[str] = []
    clock = ManualClock()
    caller = _caller(events, clock=clock, hold="session")
    for _ in range(2):
        with pytest.raises(ServiceError):
            caller.call(lambda: _raise(CallFailed(Kind.OUTAGE, "HTTP 503 on GET /x")))
    events.clear()
    with pytest.raises(CircuitOpenError) as info:
        caller.call(lambda: events.append("call"))
    assert events == []  # no rate spent, no request
    assert str(info.value).startswith("svc for store s1: circuit open for svc until ")
    assert str(info.value).endswith(
        "; last error: ServiceError: svc for store s1: HTTP 503 on GET /x after 3 attempts"
    )
    clock.advance(30)
    assert caller.call(lambda: "probe") == "probe"
    assert caller.breaker.status().state == "closed"


def test_a_bug_passes_through_unchanged_and_untried() -> None:
    events: list[str] = []
    with pytest.raises(KeyError):
        _caller(events).call(lambda: {}["missing"])
    assert events.count("rate api:svc") == 1


def test_the_breaker_policy_is_read_once_and_a_call_costs_one_statement(
    isolated_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multistore.breaker

    reads = []
    original = multistore.breaker.load_policies
    monkeypatch.setattr(
        multistore.breaker, "load_policies", lambda *a: reads.append(1) or original(*a)
    )
    caller = Caller("svc", store="s1", pools=NO_POOLS, clock=ManualClock())
    caller.call(lambda: "warm")  # the row is created on first use
    statements: list[str] = []
    engine = get_engine()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(5):
            caller.call(lambda: "ok")
        assert len(statements) == 5  # one SELECT per call
        statements.clear()
        with pytest.raises(ServiceError):
            caller.call(lambda: _raise(CallFailed(Kind.OUTAGE, "down")), attempts=1)
        assert len(statements) == 2  # the SELECT, one UPDATE that counts the failure
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert reads == [1]


def test_a_body_that_is_not_json_is_malformed() -> None:
    request = httpx.Request("POST", "https://dnc.example.test/dnc/scrub")
    response = httpx.Response(200, content=b"<html>oops</html>", request=request)
    with pytest.raises(CallFailed) as info:
        json_body(response)
    assert info.value.kind is Kind.MALFORMED
    assert str(info.value) == "HTTP 200 on POST /dnc/scrub: body is not JSON ('<html>oops</html>')"


def _raise(exc: Exception):
    raise exc
