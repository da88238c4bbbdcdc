"""A store's jobs and their dependencies as data: the default graph, per-store overrides, checks.

The default graph is the product's: HomeNet first, Dealer.com and the detail pages after it, short
links after the pages, DNC compliance on its own. A store turns jobs off (its `jobs` list) and adds
dependencies (its `dependencies` map); `build_graph` checks the result before anything runs and
refuses it with one error: an unknown job, a dependency on a job turned off, or a cycle (its path).

Edges point the way work flows: `a -> b` means b runs after a.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

HOMENET_FEED = "homenet_feed"
DEALERCOM_FEED = "dealercom_feed"
VDP_SCRAPE = "vdp_scrape"
URL_SHORTEN = "url_shorten"
DNC_COMPLIANCE = "dnc_compliance"

# Job → the jobs it runs after. Insertion order is the order jobs are listed and started in.
DEFAULT_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    HOMENET_FEED: (),
    DEALERCOM_FEED: (HOMENET_FEED,),
    VDP_SCRAPE: (HOMENET_FEED,),
    URL_SHORTEN: (VDP_SCRAPE,),
    DNC_COMPLIANCE: (),
}
DEFAULT_JOBS: tuple[str, ...] = tuple(DEFAULT_DEPENDENCIES)


class GraphError(ValueError):
    """A job configuration that cannot run; the message says what and for which store."""


class _StoreLike(Protocol):
    id: str
    jobs: list[str]
    dependencies: dict[str, list[str]]


@dataclass(frozen=True)
class JobGraph:
    """A validated, acyclic job graph: `jobs` in a dependency-respecting order."""

    jobs: tuple[str, ...]
    dependencies: Mapping[str, tuple[str, ...]]

    def dependents(self, job: str) -> tuple[str, ...]:
        return tuple(j for j in self.jobs if job in self.dependencies[j])

    def downstream(self, job: str) -> tuple[str, ...]:
        """Every job that (transitively) runs after `job`, in graph order."""
        found: set[str] = set()
        frontier = [job]
        while frontier:
            for dependent in self.dependents(frontier.pop()):
                if dependent not in found:
                    found.add(dependent)
                    frontier.append(dependent)
        return tuple(j for j in self.jobs if j in found)

    def levels(self) -> list[tuple[str, ...]]:
        """Jobs by depth: level 0 has no dependencies; a job sits one past its deepest one."""
        depth: dict[str, int] = {}
        for job in self.jobs:  # already topologically ordered
            depth[job] = 1 + max((depth[d] for d in self.dependencies[job]), default=-1)
        count = 1 + max(depth.values(), default=-1)
        return [tuple(j for j in self.jobs if depth[j] == level) for level in range(count)]

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(dep, job) for job in self.jobs for dep in self.dependencies[job]]


def build_graph(
    jobs: Iterable[str] | None = None,
    extra_dependencies: Mapping[str, Iterable[str]] | None = None,
    *,
    known: Mapping[str, tuple[str, ...]] = DEFAULT_DEPENDENCIES,
    owner: str = "",
) -> JobGraph:
    """The graph of `jobs` (default: all known): known dependencies plus `extra_dependencies`.

    Raises GraphError naming `owner` (e.g. "store sunset-ford") and the offending job or cycle.
    """
    where = f"{owner}: " if owner else ""
    enabled = list(dict.fromkeys(known if jobs is None else jobs))
    unknown = [j for j in enabled if j not in known]
    extra = {job: list(deps) for job, deps in (extra_dependencies or {}).items()}
    for job, deps in extra.items():
        unknown += [name for name in [job, *deps] if name not in known and name not in unknown]
    if unknown:
        raise GraphError(
            f"{where}unknown job {', '.join(map(repr, unknown))} (known: {', '.join(known)})"
        )
    dependencies: dict[str, tuple[str, ...]] = {}
    for job in enabled:
        deps = list(dict.fromkeys([*known[job], *extra.get(job, [])]))
        off = [d for d in deps if d not in enabled]
        if off:
            raise GraphError(f"{where}job {job!r} depends on {off[0]!r}, which is turned off")
        dependencies[job] = tuple(deps)
    cycle = find_cycle(dependencies)
    if cycle:
        raise GraphError(f"{where}dependency cycle {' -> '.join(cycle)}")
    return JobGraph(jobs=_topological_order(enabled, dependencies), dependencies=dependencies)


def graph_for_store(store: _StoreLike) -> JobGraph:
    """The store's validated graph (its `jobs` turned on, its extra `dependencies` added)."""
    return build_graph(store.jobs, store.dependencies, owner=f"store {store.id}")


def find_cycle(dependencies: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle as a path in run order that returns to its start (`[a, b, c, a]`), or None."""
    # Walk "runs after" edges; a grey node met again closes a cycle. Reverse it so it reads as run
    # order (a -> b: b after a), which is how the error and the Mermaid diagram draw edges.
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(job: str) -> list[str] | None:
        state[job] = 1
        path.append(job)
        for dep in dependencies.get(job, ()):
            if state.get(dep) == 1:
                loop = [*path[path.index(dep) :], dep]
                return loop[::-1]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[job] = 2
        return None

    for job in dependencies:
        if job not in state and (found := visit(job)):
            return found
    return None


def _topological_order(
    jobs: list[str], dependencies: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """Kahn's order, stable with respect to `jobs` (listed order breaks ties)."""
    done: list[str] = []
    remaining = list(jobs)
    while remaining:
        ready = next(j for j in remaining if all(d in done for d in dependencies[j]))
        done.append(ready)
        remaining.remove(ready)
    return tuple(done)


def render_text(graph: JobGraph, *, title: str = "") -> str:
    """A plain-text picture: one line per level, each job with what it runs after."""
    lines = [title] if title else []
    levels = graph.levels()
    lines.append(f"{len(graph.jobs)} jobs, {len(graph.edges)} dependencies, {len(levels)} levels")
    for number, level in enumerate(levels):
        parts = []
        for job in level:
            deps = graph.dependencies[job]
            parts.append(f"{job} (after {', '.join(deps)})" if deps else job)
        lines.append(f"  level {number}: {'; '.join(parts)}")
    return "\n".join(lines)


_MERMAID_CLASSES = {
    "completed": "fill:#d4edda,stroke:#28a745",
    "failed": "fill:#f8d7da,stroke:#dc3545",
    "blocked": "fill:#e2e3e5,stroke:#6c757d,stroke-dasharray: 4 2",
}


def render_mermaid(graph: JobGraph, statuses: Mapping[str, str] | None = None) -> str:
    """A Mermaid flowchart (left to right); with `statuses`, nodes are coloured by outcome."""
    lines = ["flowchart LR"]
    for job in graph.jobs:
        label = f"{job}<br/>{statuses[job]}" if statuses and job in statuses else job
        lines.append(f'  {job}["{label}"]')
    lines += [f"  {dep} --> {job}" for dep, job in graph.edges]
    if statuses:
        for status, style in _MERMAID_CLASSES.items():
            members = [j for j in graph.jobs if statuses.get(j) == status]
            if members:
                lines.append(f"  classDef {status} {style}")
                lines.append(f"  class {','.join(members)} {status}")
    return "\n".join(lines)
