"""`multistore graph STORE`: a store's job graph, checked, as text, Mermaid or JSON.

Also `multistore breakers`: the circuit breakers' states (and `--reset SERVICE`).
Composed into the command by cli/app.py; no Prefect here.
"""

from __future__ import annotations

from typing import Annotated

import typer

from multistore.breaker import CircuitBreaker, all_statuses
from multistore.cli_output import console, emit_json, fail, local_time, table
from multistore.jobgraph import GraphError, graph_for_store, render_mermaid, render_text
from multistore.registry import Registry, UnknownStoreError


def graph(
    store_id: Annotated[str, typer.Argument(help="The store's id.")],
    mermaid: Annotated[bool, typer.Option("--mermaid", help="Print a Mermaid flowchart.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Print a store's job graph (its jobs turned on, with their dependencies), checked."""
    try:
        store = Registry().get(store_id)
        job_graph = graph_for_store(store)
    except (UnknownStoreError, GraphError) as exc:
        fail(str(exc))
    if as_json:
        emit_json(
            {
                "store_id": store_id,
                "jobs": list(job_graph.jobs),
                "dependencies": {j: list(d) for j, d in job_graph.dependencies.items()},
                "levels": [list(level) for level in job_graph.levels()],
                "mermaid": render_mermaid(job_graph),
            }
        )
    elif mermaid:
        console.print(render_mermaid(job_graph), highlight=False, markup=False)
    else:
        console.print(
            render_text(job_graph, title=f"store {store_id}"), highlight=False, markup=False
        )


def breakers(
    reset: Annotated[
        str | None, typer.Option("--reset", help="Close this service's circuit.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the circuit breakers of the outside services (shared by all stores and workers)."""
    if reset:
        CircuitBreaker(reset).reset()
    rows = all_statuses()
    if as_json:
        emit_json([row.__dict__ for row in rows])
        return
    table(
        "circuit breakers",
        ["service", "state", "failures", "open until", "opened", "last error"],
        [
            [
                r.service,
                r.state,
                r.failures,
                local_time(r.opened_until),
                r.times_opened,
                r.last_error,
            ]
            for r in rows
        ],
    )


def register(app: typer.Typer) -> None:
    app.command("graph")(graph)
    app.command("breakers")(breakers)
