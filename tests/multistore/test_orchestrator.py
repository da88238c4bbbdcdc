"""The orchestrator's calls through an outage, on an injected clock: waited out, or one line
naming the Prefect server; an error that is no outage passes at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from multistore.orchestrator import (
    OUTAGE_SECONDS,
    PrefectServerUnavailable,
    athrough_outage,
    is_outage,
    through_outage,
)


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def refused() -> httpx.ConnectError:
    return httpx.ConnectError("All connection attempts failed")


class Wrapped(Exception):
    """Prefect wraps the HTTP error (ConcurrencySlotAcquisitionError ... from exc)."""


def status_error(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://prefect.test/api/x")
    return httpx.HTTPStatusError("x", request=request, response=httpx.Response(code))


def test_outages_are_told_from_our_own_errors() -> None:
    wrapped = Wrapped("Unable to acquire concurrency slots")
    wrapped.__cause__ = refused()
    assert is_outage(refused()) and is_outage(wrapped)
    assert is_outage(status_error(503)) and is_outage(status_error(429))
    assert not is_outage(status_error(404)) and not is_outage(status_error(422))
    assert not is_outage(ValueError("limit 'browser' must be created first"))


def test_a_restart_is_waited_out_with_growing_pauses(monkeypatch, caplog) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.test/api")
    from multistore.settings import reset_settings

    reset_settings()
    time_ = FakeTime()
    answers = [refused()] * 6 + ["released"]

    def release() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with caplog.at_level("WARNING", logger="multistore.orchestrator"):
        got = through_outage(
            release, what="releasing a slot of pool 'browser'", now=time_.now, sleep=time_.sleep
        )
    assert got == "released"
    assert time_.slept == [1, 2, 4, 8, 15, 15]
    first, last = (r.getMessage() for r in caplog.records)
    assert first.startswith(
        "Prefect server http://prefect.test/api unreachable while releasing a slot of pool "
        "'browser' (ConnectError: All connection attempts failed)"
    )
    assert "answers again" in last


def test_a_server_gone_for_good_is_one_line_naming_it(monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.test/api")
    from multistore.settings import reset_settings

    reset_settings()
    time_ = FakeTime()

    def gone() -> None:
        raise refused()

    with pytest.raises(PrefectServerUnavailable) as caught:
        through_outage(
            gone, what="taking a slot of pool 'api:dnc'", now=time_.now, sleep=time_.sleep
        )
    assert str(caught.value) == (
        f"Prefect server http://prefect.test/api unreachable for {OUTAGE_SECONDS:.0f} s while "
        "taking a slot of pool 'api:dnc': ConnectError: All connection attempts failed"
    )
    assert sum(time_.slept) == OUTAGE_SECONDS  # waited the whole budget, no longer


def test_an_error_that_is_no_outage_is_not_retried() -> None:
    time_ = FakeTime()
    calls = []

    def missing() -> None:
        calls.append(1)
        raise status_error(404)

    with pytest.raises(httpx.HTTPStatusError):
        through_outage(missing, what="x", now=time_.now, sleep=time_.sleep)
    assert calls == [1] and time_.slept == []


def test_async_calls_wait_the_same_way() -> None:
    time_ = FakeTime()
    answers: list = [status_error(503), status_error(502), "written"]

    async def write() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    got = asyncio.run(athrough_outage(write, what="writing", now=time_.now, sleep=time_.asleep))
    assert got == "written" and time_.slept == [1, 2]
