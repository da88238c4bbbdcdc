"""Flow run names that say what a run covers, instead of Prefect's random `indefinable-ant`.

`nightly 2026-11-29 west`, `adhoc: sunset-ford`, `local: region east, HIGH`, and for a store's
run `sunset-ford attempt 2`. The parent's name is computed when its run starts, from its
parameters and deployment (prefect.runtime); the pure part is `parent_name`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from multistore.run_options import REGION_ZONES
from multistore.windows import zone

NIGHTLY = "nightly"
# Beyond this many store ids a name says "+N more" (the runs list shows ~60 characters).
MAX_NAMED_STORES = 3


def parent_name(
    parameters: Mapping[str, Any], *, deployment: str | None, scheduled: datetime | None
) -> str:
    """What a parent run covers, from its parameters and the deployment that started it."""
    region = parameters.get("region")
    if deployment == NIGHTLY:
        when = scheduled or datetime.now(UTC)
        # The night as the region's people date it: 23:30 in Los Angeles is already tomorrow in UTC.
        local = when.astimezone(zone(REGION_ZONES.get(str(region), "UTC")))
        return " ".join(p for p in (NIGHTLY, f"{local:%Y-%m-%d}", region) if p)
    kind = deployment or "local"
    if parameters.get("dry_run"):
        kind += " dry run"
    return f"{kind}: {_covers(parameters)}"


def _covers(parameters: Mapping[str, Any]) -> str:
    stores = list(parameters.get("stores") or [])
    parts = []
    if stores:
        named = ", ".join(stores[:MAX_NAMED_STORES])
        more = len(stores) - MAX_NAMED_STORES
        parts.append(named + (f" +{more} more" if more > 0 else ""))
    if parameters.get("region"):
        parts.append(f"region {parameters['region']}")
    if parameters.get("priority"):
        parts.append(str(getattr(parameters["priority"], "value", parameters["priority"])))
    if not parts:
        parts.append("all due stores")
    text = ", ".join(parts)
    if parameters.get("jobs"):
        text += f" ({', '.join(parameters['jobs'])})"
    if parameters.get("ignore_windows"):
        text += " ignoring windows"
    return text


def store_attempt_name(store_id: str, attempt: int) -> str:
    """A store's run started by a parent: `sunset-ford attempt 2`."""
    return f"{store_id} attempt {attempt}"


def parent_run_name() -> str:
    """The flow_run_name callable of the parent flow (reads the run's own context)."""
    from prefect.runtime import deployment, flow_run

    return parent_name(
        flow_run.parameters,
        deployment=deployment.name,
        scheduled=flow_run.scheduled_start_time,
    )


def store_run_name() -> str:
    """A store run's name: the one its parent gave (`sunset-ford attempt 2`), else, started on
    its own, `sunset-ford` or `sunset-ford: homenet_feed`.

    Prefect applies a flow's name template when the run starts, over the name it was created
    with: a name the parent gave is kept here.
    """
    from prefect.runtime import flow_run

    return store_name(flow_run.parameters, current=flow_run.name)


def store_name(parameters: Mapping[str, Any], *, current: str | None) -> str:
    store_id = parameters["store_id"]
    if current and current.startswith(f"{store_id} attempt "):
        return current
    jobs = parameters.get("jobs")
    return store_id + (f": {', '.join(jobs)}" if jobs else "")
