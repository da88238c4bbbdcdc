"""Emit a store's outcome as a Prefect event (the shapes are multistore.store_events')."""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

from multistore.store_events import store_event


def emit_store_event(outcome: str, store: Any, payload: dict | None = None, **labels: Any) -> None:
    """Emit `multistore.store.<outcome>` for `store`; inside a run Prefect relates it to the run."""
    emit_event(**store_event(outcome, store, payload, **labels))
