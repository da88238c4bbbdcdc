"""Store nodes: each store's own API answers a health check, with its machine's status.

    GET /node/{store_id}/health  →  {"store_id", "status": "ok", "time", "machine": {"status"}}

Faults (vendor `node`, store = the store id) make a node slow (`latency_ms`), down (`outage`:
503, or `hang_rate: 1`: no answer at all) or flapping (`error_rate: 0.5`: about every other
check fails, deterministically under the seed). The machine reports `fault` for ~3% of
(store, minute) pairs, `running` otherwise, so uptime has something to measure.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from sandbox.faults import roll
from sandbox.state import SandboxState

VENDOR = "node"
MACHINE_FAULT_RATE = 0.03


def machine_status(seed: int, store_id: str, minute: int) -> str:
    return (
        "fault"
        if roll(seed, VENDOR, store_id, minute, "machine") < MACHINE_FAULT_RATE
        else "running"
    )


def router(state: SandboxState) -> APIRouter:
    api = APIRouter()

    @api.get("/node/{store_id}/health")
    async def health(store_id: str, request: Request) -> dict[str, Any]:
        await state.gate(request, VENDOR, store_id)
        minute = int(time.time() // 60)
        return {
            "store_id": store_id,
            "status": "ok",
            "time": datetime.now(UTC).isoformat(),
            "machine": {"status": machine_status(state.config.seed, store_id, minute)},
        }

    return api
