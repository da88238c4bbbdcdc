"""The scrub client in batches against the sandbox (one test through the real Prefect pools)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from pydantic import SecretStr

from blocks.sandbox import shared_block
from multistore.calls import NO_POOLS
from multistore.clock import ManualClock
from multistore.pacer import RatePacer
from multistore.pools import load_pools, rate_name
from multistore.retry import ServiceError
from sandbox import data as sandbox_data
from sandbox.counters import most_in_window

NUMBERS = [f"213555{n:04d}" for n in range(100, 123)] + ["9115550142"]


@pytest.mark.prefect
def test_batches_answer_every_number_through_the_prefect_pools(prefect_server, sandbox) -> None:
    from tasks.pools import PREFECT_POOLS, ensure_pools

    asyncio.run(ensure_pools(load_pools()))
    service = shared_block("dnc", sandbox.url, batch_size=7)
    with service.get_client("dnc-batches", pools=PREFECT_POOLS) as client:
        verdicts = client.scrub(NUMBERS)
    seed = sandbox.state.config.seed
    assert verdicts == {
        n: (
            sandbox_data.scrub_result(seed, n)["code"],
            sandbox_data.scrub_result(seed, n)["reason"],
        )
        for n in NUMBERS
    }
    assert sandbox.admin.vendor_counts("dnc")["accepted"] == 4  # 24 numbers, 7 a batch


def test_a_refused_key_is_one_line_and_not_retried(sandbox) -> None:
    service = shared_block("dnc", sandbox.url)
    service.api_key = SecretStr("wrong")
    with (
        service.get_client("dnc-key", pools=NO_POOLS) as client,
        pytest.raises(ServiceError) as info,
    ):
        client.scrub(NUMBERS)
    assert str(info.value).startswith("dnc for store dnc-key: HTTP 401 on POST /dnc/scrub")
    assert sandbox.admin.vendor_counts("dnc")["requests"] == 1


def test_an_outage_opens_the_circuit_and_later_calls_fail_fast(sandbox) -> None:
    service = shared_block("dnc", sandbox.url)
    sandbox.admin.set_faults([{"vendor": "dnc", "outage": True}])
    messages = []
    with service.get_client("dnc-down", pools=NO_POOLS) as client:
        for _ in range(6):
            with pytest.raises(ServiceError) as info:
                client.scrub(NUMBERS)
            messages.append(str(info.value))
        requests = sandbox.admin.vendor_counts("dnc")["requests"]
        with pytest.raises(ServiceError) as info:
            client.scrub(NUMBERS)
    assert messages[0].startswith("dnc for store dnc-down: HTTP 503 on POST /dnc/scrub after")
    opened = str(info.value)
    assert opened.startswith("dnc for store dnc-down: circuit open for dnc until "), opened
    assert "last error: ServiceError: dnc for store dnc-down: HTTP 503" in opened
    assert "\n" not in opened
    assert sandbox.admin.vendor_counts("dnc")["requests"] == requests  # no request was made


def _mock_dnc(answers: list[httpx.Response]):
    """A client whose scrub service answers `answers` in turn (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]

    service = shared_block("dnc", "https://dnc.example.test")
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return service.get_client("dnc-mock", pools=NO_POOLS, http=http), seen


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (httpx.Response(200, content=b"{not json"), "body is not JSON ('{not json')"),
        (httpx.Response(200, json={"verdicts": []}), "'results' is missing"),
        (
            httpx.Response(200, json={"results": [{"number": NUMBERS[0]}]}),
            "a result without number and code: {'number': '2135550100'}",
        ),
        (
            httpx.Response(200, json={"results": []}),
            "no verdict for 24 number(s), first 2135550100",
        ),
    ],
)
def test_a_malformed_answer_is_retried_then_one_line(answer: httpx.Response, cause: str) -> None:
    client, seen = _mock_dnc([answer])
    with client, pytest.raises(ServiceError) as info:
        client.scrub(NUMBERS)
    message = str(info.value)
    assert message.startswith("dnc for store dnc-mock: "), message
    assert cause in message and message.endswith("after 12 attempts"), message
    assert "\n" not in message
    assert len(seen) == 12  # MALFORMED earns retries, like an outage


def test_a_malformed_answer_then_a_good_one_goes_through() -> None:
    good = httpx.Response(
        200, json={"results": [{"number": n, "code": "C", "reason": "ok"} for n in NUMBERS]}
    )
    client, seen = _mock_dnc([httpx.Response(200, content=b"<html>oops</html>"), good])
    with client:
        assert client.scrub(NUMBERS) == dict.fromkeys(NUMBERS, ("C", "ok"))
    assert len(seen) == 2


class _SlowSlotPools:
    """Pools whose slot costs `round_trip` seconds of the test's clock to take and as long to
    give back (the Prefect server's answers on a loaded machine), and whose rate is the registry's
    pacer on that clock, as tasks/pools.py paces it."""

    def __init__(self, clock: ManualClock, pacer: RatePacer, round_trip: float) -> None:
        self.clock, self.pacer, self.round_trip = clock, pacer, round_trip
        self.taken = 0

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        self.clock.advance(self.round_trip)
        self.taken += 1
        try:
            yield
        finally:
            self.clock.advance(self.round_trip)

    def throttle(self, name: str) -> None:
        self.pacer.wait(rate_name(name), 120, 5)


def test_one_store_alone_keeps_the_pools_rate_however_slow_the_slot(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The uneven stores' tail: one store left scrubbing must send at the pool's full rate (120/min,
    a request every 0.5 s) even when each answer about a slot takes the Prefect server 1 s. The
    slot is taken once for the scrub, not per request; the rate is never exceeded."""
    clock = ManualClock()
    pools = _SlowSlotPools(clock, RatePacer(f"sqlite:///{tmp_path / 'pace.db'}", clock=clock), 1.0)
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock.now().timestamp())
        clock.advance(0.05)  # the vendor's answer
        batch = json.loads(request.content)["numbers"]
        return httpx.Response(200, json={"results": [{"number": n, "code": "C"} for n in batch]})

    service = shared_block("dnc", "https://dnc.example.test", batch_size=5)
    http = httpx.Client(transport=httpx.MockTransport(handler))
    numbers = [f"213555{n:04d}" for n in range(200)]
    with service.get_client("dnc-alone", pools=pools, http=http, clock=clock) as client:
        assert len(client.scrub(numbers)) == 200
    assert len(sent) == 40
    # At the pace: the burst of 5, then the other 35 one interval apart, and never faster.
    assert sent[-1] - sent[0] <= 35 * 0.5 + 0.05
    for width in (1, 5, 10, 60):
        assert most_in_window(sent, width) <= 5 + width * 2, width
    assert pools.taken == 1
