"""The scrub in batches against the sandbox, through the real Prefect pools."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from blocks.sandbox import shared_block
from multistore.pools import load_pools
from multistore.retry import ServiceError
from sandbox import data as sandbox_data
from tasks.dnc import scrub_batches
from tasks.pools import ensure_pools

pytestmark = pytest.mark.prefect

NUMBERS = [f"213555{n:04d}" for n in range(100, 123)] + ["9115550142"]


@pytest.fixture
def pools(prefect_server) -> None:
    asyncio.run(ensure_pools(load_pools()))


def test_batches_answer_every_number(pools, sandbox) -> None:
    service = shared_block("dnc", sandbox.url, batch_size=7)
    with httpx.Client() as http:
        verdicts = scrub_batches(NUMBERS, service, store_id="dnc-batches", http=http)
    seed = sandbox.state.config.seed
    assert verdicts == {
        n: (
            sandbox_data.scrub_result(seed, n)["code"],
            sandbox_data.scrub_result(seed, n)["reason"],
        )
        for n in NUMBERS
    }
    assert sandbox.admin.vendor_counts("dnc")["accepted"] == 4  # 24 numbers, 7 a batch


def test_a_refused_key_is_one_line_and_not_retried(pools, sandbox) -> None:
    service = shared_block("dnc", sandbox.url)
    service.api_key = SecretStr("wrong")
    with httpx.Client() as http, pytest.raises(ServiceError) as info:
        scrub_batches(NUMBERS, service, store_id="dnc-key", http=http)
    assert str(info.value).startswith("dnc for store dnc-key: HTTP 401 on POST /dnc/scrub")
    assert sandbox.admin.vendor_counts("dnc")["requests"] == 1


def test_an_outage_opens_the_circuit_and_later_calls_fail_fast(pools, sandbox) -> None:
    service = shared_block("dnc", sandbox.url)
    sandbox.admin.set_faults([{"vendor": "dnc", "outage": True}])
    messages = []
    with httpx.Client() as http:
        for _ in range(6):
            with pytest.raises(ServiceError) as info:
                scrub_batches(NUMBERS, service, store_id="dnc-down", http=http)
            messages.append(str(info.value))
        requests = sandbox.admin.vendor_counts("dnc")["requests"]
        with pytest.raises(ServiceError) as info:
            scrub_batches(NUMBERS, service, store_id="dnc-down", http=http)
    assert messages[0].startswith("dnc for store dnc-down: HTTP 503 on POST /dnc/scrub after")
    opened = str(info.value)
    assert opened.startswith("dnc for store dnc-down: circuit open for dnc until "), opened
    assert "last error: ServiceError: dnc for store dnc-down: HTTP 503" in opened
    assert "\n" not in opened
    assert sandbox.admin.vendor_counts("dnc")["requests"] == requests  # no request was made
