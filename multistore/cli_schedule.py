"""Scheduling verbs (composed by cli/app.py): recurring tasks, occurrences, stuck runs.

multistore tasks list [STORE]                 the stores' recurring tasks
multistore tasks add STORE --name N --cron C --jobs a,b [--catch-up MIN]
multistore tasks remove STORE NAME
multistore occurrences [--store S] [--hours H] due now and recent, with their claims
multistore reset-stuck                        close runs whose lease expired, and orphans
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from multistore.claims import Claims
from multistore.cli_output import console, emit_json, local_time, table
from multistore.leases import Leases
from multistore.occurrences import occurrences
from multistore.registry import Registry
from multistore.ticking import sweep

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

tasks_app = typer.Typer(help="A store's recurring tasks (cron in its zone, jobs, catch-up).")


def register(app: typer.Typer) -> None:
    from multistore.cli import one_line_errors

    tasks_app.command("list")(one_line_errors(list_tasks))
    tasks_app.command("add")(one_line_errors(add_task))
    tasks_app.command("remove")(one_line_errors(remove_task))
    app.add_typer(tasks_app, name="tasks")
    app.command("occurrences")(one_line_errors(show_occurrences))
    app.command("reset-stuck")(one_line_errors(reset_stuck))


def list_tasks(
    store_id: Annotated[str | None, typer.Argument(metavar="[STORE]")] = None,
    as_json: JsonOption = False,
) -> None:
    """The recurring tasks of one store or of all."""
    registry = Registry()
    stores = [registry.get(store_id)] if store_id else registry.list()
    rows = [
        {"store_id": s.id, "timezone": s.timezone, **task} for s in stores for task in s.tasks or []
    ]
    if as_json:
        emit_json(rows)
    elif not rows:
        console.print("no recurring tasks")
    else:
        table(
            "recurring tasks",
            ["store", "task", "cron", "zone", "jobs", "catch-up min"],
            [
                [
                    r["store_id"],
                    r["name"],
                    r["cron"],
                    r["timezone"],
                    ", ".join(r["jobs"]),
                    r["catch_up_minutes"],
                ]
                for r in rows
            ],
        )


def add_task(
    store_id: Annotated[str, typer.Argument(metavar="STORE")],
    name: Annotated[str, typer.Option(help="The task's name, unique in the store.")],
    cron: Annotated[str, typer.Option(help="Five-field cron in the store's zone.")],
    jobs: Annotated[str, typer.Option(help="Comma-separated jobs, e.g. homenet_feed.")],
    catch_up: Annotated[
        int | None,
        typer.Option("--catch-up", help="Minutes it stays due (default 30, at most the cadence)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a recurring task to a store."""
    job_list = [j.strip() for j in jobs.split(",") if j.strip()]
    store = Registry().add_task(
        store_id, name=name, cron=cron, jobs=job_list, catch_up_minutes=catch_up
    )
    task = next(t for t in store.tasks if t["name"] == name)
    if as_json:
        emit_json({"store_id": store_id, **task})
    else:
        console.print(
            f"{store_id}: task {name} runs {', '.join(task['jobs'])} on {task['cron']} "
            f"({store.timezone}), due for {task['catch_up_minutes']} min"
        )


def remove_task(
    store_id: Annotated[str, typer.Argument(metavar="STORE")],
    name: Annotated[str, typer.Argument(metavar="NAME")],
    as_json: JsonOption = False,
) -> None:
    """Remove a store's recurring task."""
    Registry().remove_task(store_id, name)
    if as_json:
        emit_json({"store_id": store_id, "removed": name})
    else:
        console.print(f"{store_id}: task {name} removed")


def show_occurrences(
    store_id: Annotated[str | None, typer.Option("--store", help="Only this store.")] = None,
    hours: Annotated[float, typer.Option(help="Also those due in the last H hours.")] = 24.0,
    as_json: JsonOption = False,
) -> None:
    """Occurrences due now or in the last hours, with what their claim says (or 'unclaimed')."""
    registry = Registry()
    now = datetime.now(UTC)
    since = now - timedelta(hours=hours)
    stores = [registry.get(store_id)] if store_id else registry.list()
    claims = {(c.store_id, c.occurrence_key): c for c in Claims().history(store_id, limit=5000)}
    rows: list[dict[str, Any]] = []
    for store in stores:
        for occ in occurrences(store, since, now + timedelta(microseconds=1)):
            claim = claims.get((store.id, occ.key))
            rows.append(
                {
                    "store_id": store.id,
                    "occurrence": occ.key,
                    "due_from": occ.due_from.isoformat(),
                    "due_until": occ.due_until.isoformat(),
                    "due_now": occ.due_at(now),
                    "status": claim.status if claim else "unclaimed",
                    "attempts": claim.attempts if claim else 0,
                    "flow_run_id": claim.flow_run_id if claim else None,
                }
            )
    if as_json:
        emit_json(rows)
    elif not rows:
        console.print("no occurrences in that span")
    else:
        table(
            "occurrences",
            ["store", "occurrence", "due from", "due until", "now", "status", "attempts"],
            [
                [
                    r["store_id"],
                    r["occurrence"],
                    local_time(r["due_from"]),
                    local_time(r["due_until"]),
                    "due" if r["due_now"] else "",
                    r["status"],
                    r["attempts"],
                ]
                for r in rows
            ],
        )


def reset_stuck(as_json: JsonOption = False) -> None:
    """Close store runs whose lease expired (their process died) and 'running' rows no live
    lease backs, as crashed; say what was closed. Their occurrences are retried by the next tick
    while still due."""
    leases = Leases()
    now = datetime.now(UTC)
    expired = sweep(Claims(), leases, now)
    orphans = leases.close_orphan_runs(now=now)
    closed = [
        {
            "store_id": d.store_id,
            "flow_run_id": d.holder,
            "run_id": d.run_row_id,
            "lease_expired_at": d.expired_at.isoformat(),
        }
        for d in expired
    ]
    if as_json:
        emit_json({"expired_leases": closed, "orphan_runs": orphans})
        return
    if not closed and not orphans:
        console.print("nothing stuck: every running store renews its lease")
    for c in closed:
        console.print(
            f"closed {c['store_id']}: flow run {c['flow_run_id']} (run {c['run_id']}) crashed, "
            f"lease expired at {local_time(c['lease_expired_at'])}"
        )
    for run_id in orphans:
        console.print(f"closed run {run_id}: 'running' with no live lease, now crashed")
