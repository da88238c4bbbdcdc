"""`multistore run` for real (the parent flow) and the live side of `multistore status`.

multistore/cli.py owns the verbs; cli/app.py attaches this module (`attach_runs`), so `run` calls
`run_stores_cli`, `status` calls `last_report_summary`, `print_last_report` and `watch_status`,
and `watch RUN` calls `watch_run`.
Prefect is imported inside the functions, so `multistore --help` stays fast.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from multistore import report as reports
from multistore.cli_output import console, emit_json, error_line
from multistore.settings import get_settings

REFRESH_SECONDS = 2.0
# Limits Prefect creates for itself (deployment concurrency), not our pools.
INTERNAL_LIMIT_PREFIXES = ("deployment:",)


def run_stores_cli(
    *,
    stores: list[str] | None,
    priority: str | None,
    region: str | None,
    as_json: bool,
    **options: Any,
) -> int:
    """Run the parent flow in this process (stores as subflows); 0 when every store completed."""
    from flows.run_stores import NOTHING_RAN_STATE, run_stores

    state = asyncio.run(
        run_stores(stores=stores, priority=priority, region=region, return_state=True, **options)
    )
    result = asyncio.run(state.aresult(raise_on_failure=False))
    if not isinstance(result, dict):
        # The flow failed before it had a report (bad parameters, a registry that went away).
        sys.stderr.write(error_line(f"run failed: {state.message}") + "\n")
        return 1
    if as_json:
        emit_json(result)
    else:
        print_report(result)
    if state.name == NOTHING_RAN_STATE:
        # Nothing asked for ran (windows closed, disabled, running elsewhere): not a success.
        if as_json:  # stdout stays one JSON document
            sys.stderr.write(error_line(state.message) + "\n")
        else:
            console.print(state.message, highlight=False)
        return 1
    return 0 if state.is_completed() else 1


def print_report(report: dict[str, Any]) -> None:
    """The report as people read it: totals, then a row per store."""
    totals = report["totals"]
    console.print(
        f"run {report['state']}: {totals['completed']} completed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped, {totals['quarantined']} quarantined "
        f"(started {report['started_at'][:19]}Z)",
        highlight=False,
    )
    rows = reports.table_rows(report)
    if rows:
        table = Table(title_justify="left")
        for column in rows[0]:
            table.add_column(column, overflow="fold", no_wrap=column != "error")
        for row in rows:
            table.add_row(*("-" if v is None else str(v) for v in row.values()))
        console.print(table)
    compliance = report["compliance"]
    if compliance["stores"]:
        rate = compliance["compliance_rate"]
        console.print(
            f"compliance: {compliance['contacts']} contacts, {compliance['callable']} callable, "
            f"{compliance['flags_changed']} CRM flags changed, rate "
            f"{'n/a' if rate is None else f'{rate:.1%}'}",
            highlight=False,
        )


def last_report_summary() -> dict[str, Any] | None:
    """The newest report: the run in progress if there is one, else the last finished run."""
    data_dir = get_settings().data_dir
    current = reports.load_report(data_dir, reports.CURRENT)
    if current is not None and current.get("state") == reports.RUNNING:
        return current
    return reports.load_report(data_dir) or current


def print_last_report() -> None:
    report = last_report_summary()
    if report is None:
        console.print("no run report yet (multistore run, or a run-stores deployment)")
        return
    console.print("last run report:", style="bold")
    print_report(report)


def watch_status(
    *, interval: float = REFRESH_SECONDS, iterations: int | None = None, run: str | None = None
) -> dict[str, Any] | None:
    """Refresh the live view until Ctrl-C (or `iterations` refreshes, for tests).

    With `run` (`multistore watch RUN`) the view follows that parent run and stops once it has
    finished; its final report is returned.
    """
    data_dir = get_settings().data_dir

    def read() -> dict[str, Any] | None:
        return last_report_summary() if run is None else reports.find_report(data_dir, run)

    done = 0
    report = read()
    with Live(_live_view(report, run), console=console, refresh_per_second=4) as live:
        try:
            while iterations is None or done < iterations:
                report = read()
                live.update(_live_view(report, run))
                done += 1
                if run is not None and report is not None and report["state"] != reports.RUNNING:
                    break
                if run is not None and report is None and _ended(_server_state(run)):
                    break  # it ended before writing a report (bad parameters, a crash)
                if iterations is None or done < iterations:
                    time.sleep(interval)
        except KeyboardInterrupt:
            pass
    return report


def watch_run(run: str, *, interval: float = REFRESH_SECONDS) -> int:
    """`multistore watch RUN`: follow a parent run's stores until it ends; 0 when it completed."""
    data_dir = get_settings().data_dir
    # Just created by `prefect deployment run`, a run has no report until a worker starts it.
    if reports.find_report(data_dir, run) is None and _server_state(run) is None:
        raise ValueError(
            f"run {run}: no report under {reports.reports_dir(data_dir)} and no such flow run "
            "(the parent run's flow run id; runs on another machine keep their reports there)"
        )
    report = watch_status(interval=interval, run=run)
    if report is None:
        state = _server_state(run)
        name = state.name if state is not None else "?"
        raise ValueError(f"run {run}: ended {name} before writing a report")
    return 0 if report["state"] == reports.COMPLETED else 1


def _server_state(run: str) -> Any:
    """The flow run's state on the Prefect server; None when `run` is no flow run id there."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        run_id = UUID(run)
    except ValueError:
        return None

    async def read() -> Any:
        async with get_client() as client:
            try:
                return (await client.read_flow_run(run_id)).state
            except ObjectNotFound:
                return None

    try:
        return asyncio.run(read())
    except Exception:  # the server away: the report on disk is what the view follows
        return None


def _ended(state: Any) -> bool:
    return state is not None and state.is_final()


def _live_view(report: dict[str, Any] | None, run: str | None = None) -> Group:
    """The run's stores (running and queued, then finished with elapsed time and outcome, then
    the skipped with their reason, from its report in progress) and the pools in use."""
    now = datetime.now(UTC).strftime("%H:%M:%S UTC")
    title = "multistore status" if run is None else f"multistore watch {run}"
    parts: list[Any] = [Text(f"{title} — {now} (Ctrl-C to stop)", style="bold")]
    if report is None:
        parts.append(Text("no run yet" if run is None else f"waiting for run {run} to start"))
    else:
        totals = report["totals"]
        if report["state"] == reports.SKIPPED:
            # Nothing ran: the stores asked for were skipped, which is no success.
            parts.append(Text(f"run {reports.state_text(report)}", style="bold yellow"))
        else:
            parts.append(
                Text(
                    f"run {report['state']} since {report['started_at'][:19]}Z: "
                    f"{totals['running']} running, {totals['queued']} queued, "
                    f"{totals['completed']} completed, {totals['failed']} failed, "
                    f"{totals['skipped']} skipped"
                )
            )
        rows = reports.watch_rows(report, datetime.now(UTC))
        if rows:
            table = Table(*rows[0], title_justify="left")
            for row in rows:
                table.add_row(*row.values())
            parts.append(table)
    parts.append(_pool_table())
    return Group(*parts)


def _pool_table() -> Any:
    try:
        pools = asyncio.run(_read_pools())
    except Exception as exc:  # the view stays up while the server is away
        return Text(f"pools: Prefect server not reachable ({type(exc).__name__})")
    table = Table("pool", "in use", "limit", title="pools (Prefect server)", title_justify="left")
    for name, active, limit in pools:
        table.add_row(name, f"{active:g}", str(limit))
    return table


async def _read_pools() -> list[tuple[str, float, int]]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        limits = await client.read_global_concurrency_limits(limit=200)
    return sorted(
        (limit.name, limit.active_slots, limit.limit)
        for limit in limits
        if not limit.name.startswith(INTERNAL_LIMIT_PREFIXES)
    )
