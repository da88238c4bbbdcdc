"""The events multistore emits, for Prefect automations (alerts) to react to.

Every store outcome is an event whose resource is the store, labelled with its priority and
region, and which also names the store as a related resource of role "store", so an automation
can match a store, a priority or a region either way:

    multistore.store.started      an attempt of a store run started (payload: attempt)
    multistore.store.completed    a store run completed
    multistore.store.failed       a store run failed; label multistore.failures-in-a-row
    multistore.store.quarantined  a failure put the store in quarantine
    multistore.store.released     someone took the store out of quarantine
    multistore.store.skipped      a run skipped the store, or a due occurrence did not start on
                                  the tick (once per occurrence and reason); label
                                  multistore.reason
    multistore.store.missed       a window went by without the store's run (the scheduler's)
    multistore.circuit.opened     a service's circuit opened (resource: the circuit)
    multistore.circuit.closed     a probe succeeded and closed it again

Plain dicts here (no Prefect): flows hand them to Prefect's `emit_event`; the Prefect-free
parts (the CLI's `release`, the circuit breakers) post them to the server's REST API.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from multistore.prefect_api import PrefectAPI, PrefectUnavailable

STORE_EVENT = "multistore.store.{}"
STORE_OUTCOMES = (
    "started",
    "completed",
    "failed",
    "quarantined",
    "released",
    "skipped",
    "missed",
)
CIRCUIT_OPENED, CIRCUIT_CLOSED = "multistore.circuit.opened", "multistore.circuit.closed"


def store_resource(store: Any, **labels: Any) -> dict[str, str]:
    """The store as an event resource: id, name, priority, region (and any `labels`)."""
    resource = {
        "prefect.resource.id": f"multistore.store.{store.id}",
        "prefect.resource.name": store.name or store.id,
        "multistore.store": store.id,
        "multistore.priority": str(getattr(store.priority, "value", store.priority)),
        "multistore.region": store.region or "",
    }
    resource.update({key: str(value) for key, value in labels.items()})
    return resource


def store_event(outcome: str, store: Any, payload: dict | None = None, **labels: Any) -> dict:
    """The event of one store outcome (one of STORE_OUTCOMES), as `emit_event`'s arguments."""
    if outcome not in STORE_OUTCOMES:
        raise ValueError(f"store event: unknown outcome {outcome!r}")
    resource = store_resource(store, **labels)
    related = {key: value for key, value in store_resource(store).items()}
    related["prefect.resource.role"] = "store"
    return {
        "event": STORE_EVENT.format(outcome),
        "resource": resource,
        "related": [related],
        "payload": {"store_id": store.id, **(payload or {})},
    }


def circuit_event(service: str, opened: bool, payload: dict | None = None) -> dict:
    return {
        "event": CIRCUIT_OPENED if opened else CIRCUIT_CLOSED,
        "resource": {
            "prefect.resource.id": f"multistore.circuit.{service}",
            "prefect.resource.name": f"circuit {service}",
            "multistore.service": service,
        },
        "related": [],
        "payload": {"service": service, **(payload or {})},
    }


def post(events: list[dict], *, prefect: PrefectAPI | None = None) -> bool:
    """Send events to the Prefect server's REST API; best effort (False when it could not).

    Without PREFECT_API_URL there is no server to tell, and nothing is sent.
    """
    api = prefect or PrefectAPI()
    if not api.url:
        return False
    now = datetime.now(UTC).isoformat()
    body = [{"id": str(uuid.uuid4()), "occurred": now, **event} for event in events]
    try:
        api.send_events(body)
    except PrefectUnavailable:
        return False
    return True
