"""`multistore supply …` (requests, deliveries, the audit trail) and the machine verbs that
keep history (`machine log|repair|show`). Composed into the command by cli/app.py; no Prefect here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from multistore.cli_network import JsonOption, _answer, _errors, _pairs, machine_app
from multistore.cli_output import emit_json, local_time, table
from multistore.network import machines, supply
from multistore.network.registry import NetworkError

supply_app = typer.Typer(help="Supply requests, deliveries, the audit trail.", no_args_is_help=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _when(value: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise NetworkError(f"{what}: {value!r} is not an ISO date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@supply_app.command("request")
@_errors
def request(
    store: Annotated[str, typer.Argument(metavar="STORE")],
    item: Annotated[list[str], typer.Option(help="SKU=UNITS; repeatable.")],
    urgency: Annotated[str, typer.Option(help="low, normal, high or critical.")] = "normal",
    key: Annotated[
        str | None, typer.Option(help="Idempotency key: the same key is the same request.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """A store asks its region's hub for items (decided at the hub's next pass)."""
    items = {}
    for sku, units in _pairs(item, "item").items():
        try:
            items[sku] = int(units)
        except ValueError:
            raise NetworkError(f"item {sku!r}: units {units!r} is not a whole number") from None
    row, steps = supply.submit(store, items, urgency=urgency, key=key, now=_now())
    message = f"request {row.id} to {row.hub_id}: {row.status}"
    _answer(as_json, row.model_dump(), message if steps else f"{message} (already submitted)")


@supply_app.command("list")
@_errors
def list_requests(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    as_json: JsonOption = False,
) -> None:
    rows = [r.model_dump() for r in supply.requests(status)]
    if as_json:
        emit_json(rows)
        return
    table(
        "supply requests",
        ["id", "store", "hub", "items", "urgency", "status", "reason", "tries", "delivery"],
        [
            [
                r["id"],
                r["store_id"],
                r["hub_id"],
                ", ".join(f"{k}={v}" for k, v in r["items"].items()),
                r["urgency"],
                r["status"],
                r["reason"],
                r["attempts"],
                r["delivery_id"],
            ]
            for r in rows
        ],
    )


@supply_app.command("deliveries")
@_errors
def list_deliveries(as_json: JsonOption = False) -> None:
    rows = [d.model_dump() for d in supply.deliveries()]
    if as_json:
        emit_json(rows)
        return
    table(
        "deliveries",
        ["id", "hub", "route", "km", "confirmed", "status"],
        [
            [
                d["id"],
                d["hub_id"],
                " → ".join(d["stops"]),
                d["distance_km"],
                f"{len(d['confirmed_stops'])}/{len(d['stops'])}",
                d["status"],
            ]
            for d in rows
        ],
    )


@supply_app.command("confirm")
@_errors
def confirm(
    delivery: Annotated[int, typer.Argument(metavar="DELIVERY")],
    stop: Annotated[list[str] | None, typer.Option(help="A stop received; default: all.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Confirm stops of a delivery; with every stop confirmed it is delivered."""
    steps = supply.confirm(delivery, stop or None, now=_now())
    _answer(
        as_json,
        [s.__dict__ for s in steps],
        "\n".join(s.detail for s in steps) or "nothing new to confirm",
    )


@supply_app.command("audit")
@_errors
def audit(as_json: JsonOption = False) -> None:
    rows = [r.model_dump() for r in supply.audit()]
    if as_json:
        emit_json(rows)
        return
    table(
        "supply audit",
        ["at", "step", "request", "delivery", "detail"],
        [
            [local_time(r["at"]), r["step"], r["request_id"], r["delivery_id"], r["detail"]]
            for r in rows
        ],
    )


@machine_app.command("log")
@_errors
def machine_log(
    machine_id: Annotated[str, typer.Argument(metavar="MACHINE")],
    kind: Annotated[str, typer.Option(help="service, repair, inspection, …")] = "service",
    notes: Annotated[str, typer.Option()] = "",
    part: Annotated[list[str] | None, typer.Option(help="A part replaced; repeatable.")] = None,
    technician: Annotated[str, typer.Option()] = "",
    at: Annotated[str | None, typer.Option(help="ISO time (default: now).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record maintenance done on a machine."""
    entry = machines.log_maintenance(
        machine_id,
        at=_when(at, "at") if at else _now(),
        kind=kind,
        notes=notes,
        parts=part or [],
        technician=technician,
    )
    _answer(as_json, entry.model_dump(), f"logged {kind} on {machine_id}")


@machine_app.command("repair")
@_errors
def machine_repair(
    machine_id: Annotated[str, typer.Argument(metavar="MACHINE")],
    due: Annotated[str, typer.Option(help="ISO date or time the repair is due.")],
    notes: Annotated[str, typer.Option()] = "",
    as_json: JsonOption = False,
) -> None:
    """Schedule a repair."""
    repair = machines.schedule_repair(machine_id, due_at=_when(due, "due"), notes=notes)
    _answer(as_json, repair.model_dump(), f"repair {repair.id} of {machine_id} due {due}")


@machine_app.command("show")
@_errors
def machine_show(
    machine_id: Annotated[str, typer.Argument(metavar="MACHINE")],
    days: Annotated[int, typer.Option(min=1, help="Uptime over the last N days.")] = 30,
    as_json: JsonOption = False,
) -> None:
    """A machine's status, uptime from its status history, maintenance and repairs."""
    end = _now()
    report = machines.report(machine_id, start=end - timedelta(days=days), end=end)
    data = {
        **report.machine.model_dump(),
        "uptime": report.uptime,
        "uptime_days": days,
        "maintenance": [m.model_dump() for m in report.maintenance],
        "repairs": [r.model_dump() for r in report.repairs],
    }
    if as_json:
        emit_json(data)
        return
    uptime = "unknown" if report.uptime is None else f"{report.uptime:.1%}"
    m = report.machine
    _answer(False, None, f"{m.id} (store {m.store_id}): {m.status}; uptime {days} d: {uptime}")
    if report.maintenance:
        table(
            "maintenance",
            ["at", "kind", "notes", "parts", "technician"],
            [
                [local_time(x.at), x.kind, x.notes, ", ".join(x.parts), x.technician]
                for x in report.maintenance
            ],
        )
    if report.repairs:
        table(
            "repairs",
            ["id", "due", "status", "notes"],
            [[r.id, local_time(r.due_at), r.status, r.notes] for r in report.repairs],
        )


def register(app: typer.Typer) -> None:
    app.add_typer(supply_app, name="supply")
