"""The do-not-call scrub service: unique numbers in batches, one verdict per number.

One task per store sends all of the store's batches (a tagged task costs slot calls: tag coarse
units). Each batch holds a slot of the `api:dnc` pool (how many requests in flight across all
stores and workers) and each attempt first waits for the pool's rate limit `rate:api:dnc`, so
retries spend rate too and the vendor's limit holds however many stores run.
"""

from __future__ import annotations

import httpx
from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from blocks.dnc import DNCService
from multistore.breaker import CircuitOpenError, breaker
from multistore.guarded import guarded_call
from multistore.retry import ServiceError
from tasks.pools import pool_slot, throttle

SERVICE = "dnc"
POOL = "api:dnc"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# A 429 storm and 5xx together may take several tries; every try waits for the rate first.
ATTEMPTS = 12


def scrub_batches(
    numbers: list[str], service: DNCService, *, store_id: str, http: httpx.Client
) -> dict[str, tuple[str, str]]:
    """number → (code, reason) for every number, `service.batch_size` numbers per request."""
    verdicts: dict[str, tuple[str, str]] = {}
    url = f"{service.base_url.rstrip('/')}/dnc/scrub"
    headers = {"X-API-Key": service.api_key.get_secret_value(), "X-Store-Id": store_id}
    for start in range(0, len(numbers), service.batch_size):
        batch = numbers[start : start + service.batch_size]

        def attempt(batch: list[str] = batch) -> dict:
            throttle(POOL)
            response = http.post(
                url, json={"numbers": batch, "ignore_invalid": True}, headers=headers
            )
            response.raise_for_status()
            return response.json()

        with pool_slot(POOL):
            try:
                body = guarded_call(attempt, service=SERVICE, store=store_id, attempts=ATTEMPTS)
            except CircuitOpenError as exc:
                raise ServiceError(_circuit_message(exc, store_id), service=SERVICE) from exc
        for result in body.get("results") or []:
            verdicts[str(result["number"])] = (str(result["code"]), str(result.get("reason", "")))
        missing = [n for n in batch if n not in verdicts]
        if missing:
            raise ValueError(
                f"{SERVICE} for store {store_id}: no verdict for {len(missing)} number(s), "
                f"first {missing[0]}"
            )
    return verdicts


def _circuit_message(exc: CircuitOpenError, store_id: str) -> str:
    """One line: the open circuit and the failure that opened it."""
    last = (breaker(SERVICE).status().last_error or "").strip().splitlines()
    cause = f"; last error: {last[0]}" if last else ""
    return f"{SERVICE} for store {store_id}: {exc}{cause}"


@task(name="dnc-scrub", tags=[POOL], cache_policy=NONE)
def scrub_numbers(numbers: list[str], store_id: str, block_name: str) -> dict[str, list[str]]:
    """The scrub service's verdict on each (unique, valid, 10-digit) number: [code, reason]."""
    service = DNCService.load(block_name, _sync=True)
    with httpx.Client(timeout=TIMEOUT) as http:
        verdicts = scrub_batches(numbers, service, store_id=store_id, http=http)
    get_run_logger().info(
        "store %s: %d numbers scrubbed in %d batch(es)",
        store_id,
        len(numbers),
        -(-len(numbers) // service.batch_size),
    )
    return {number: list(verdict) for number, verdict in verdicts.items()}
