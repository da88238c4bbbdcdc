"""Store nodes' health endpoints: check many nodes at once, each bounded by a timeout.

A check never raises: every outcome (an answer, a 5xx, a timeout, a body of the wrong shape) is
a `HealthCheck`, so one dead node cannot stop a pass over a thousand. `FakeStoreNodes` answers
in-process for logic tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

HEALTH_PATH = "/health"


@dataclass(frozen=True)
class HealthCheck:
    store_id: str
    ok: bool
    latency_ms: float | None
    error: str | None = None
    machine_status: str | None = None


def read_answer(store_id: str, body: Any) -> tuple[str | None, str | None]:
    """(machine status, error) from a health answer; the error names what is wrong with it."""
    if not isinstance(body, dict):
        return None, f"node {store_id}: health answer is not a JSON object"
    if body.get("status") != "ok":
        return None, f"node {store_id}: health answer status is {body.get('status')!r}, not 'ok'"
    if body.get("store_id") not in (None, store_id):
        return None, f"node {store_id}: health answer is for store {body.get('store_id')!r}"
    machine = body.get("machine")
    status = machine.get("status") if isinstance(machine, dict) else None
    if machine is not None and not isinstance(status, str):
        return None, f"node {store_id}: health answer machine.status is missing"
    return status, None


class StoreNodeClient:
    """Checks nodes over HTTP: at most `max_concurrent` requests in flight, each at most
    `timeout_seconds` long."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 5.0,
        max_concurrent: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.timeout = httpx.Timeout(timeout_seconds)
        self.max_concurrent = max_concurrent
        self.transport = transport
        self.clock = clock

    async def check_many(self, nodes: Iterable[tuple[str, str]]) -> list[HealthCheck]:
        """One check per (store id, API URL), in the order given."""
        semaphore = asyncio.Semaphore(self.max_concurrent)
        limits = httpx.Limits(max_connections=self.max_concurrent, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            timeout=self.timeout, limits=limits, transport=self.transport
        ) as http:

            async def one(store_id: str, api_url: str) -> HealthCheck:
                async with semaphore:
                    return await self._check(http, store_id, api_url)

            return list(await asyncio.gather(*(one(s, u) for s, u in nodes)))

    async def _check(self, http: httpx.AsyncClient, store_id: str, api_url: str) -> HealthCheck:
        url = api_url.rstrip("/") + HEALTH_PATH
        started = self.clock()
        try:
            response = await http.get(url)
        except httpx.TimeoutException:
            return HealthCheck(store_id, False, None, f"node {store_id}: no answer (timeout)")
        except httpx.HTTPError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            return HealthCheck(store_id, False, None, f"node {store_id}: {reason}")
        latency = (self.clock() - started) * 1000
        if response.status_code != 200:
            return HealthCheck(
                store_id, False, latency, f"node {store_id}: HTTP {response.status_code}"
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        machine_status, error = read_answer(store_id, body)
        return HealthCheck(store_id, error is None, latency, error, machine_status)


class FakeStoreNodes:
    """In-process nodes: `answers[store_id]` is a JSON body, an HTTP status, or None (no answer)."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers: dict[str, Any] = dict(answers or {})
        self.calls: list[str] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            store_id = request.url.path.strip("/").split("/")[-2]
            self.calls.append(store_id)
            answer = self.answers.get(store_id, {"store_id": store_id, "status": "ok"})
            if answer is None:
                raise httpx.ConnectTimeout("no answer", request=request)
            if isinstance(answer, int):
                return httpx.Response(answer, json={"error": "down"})
            return httpx.Response(200, json=answer)

        return httpx.MockTransport(handle)
