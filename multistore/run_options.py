"""The choices a run offers: the example stores' regions, the jobs, the priorities.

Typed as Literals and an Enum so that a run's parameters validate and the Prefect UI's Run form
offers them as choices instead of free text. Prefect-free: the CLI checks its options against
the same choices before it starts anything.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator

from multistore.config import Priority
from multistore.jobgraph import DEFAULT_JOBS

# A region and the zone its runs are named in (one of its example stores' zones, checked by
# tests/test_deployments.py against data/stores.example.yaml): a new region goes here and there.
Region = Literal["west", "central", "east"]
REGION_ZONES: dict[str, str] = {
    "west": "America/Los_Angeles",
    "central": "America/Chicago",
    "east": "America/New_York",
}
REGIONS: tuple[str, ...] = get_args(Region)

# Every job a store's graph may hold (multistore.jobgraph.DEFAULT_JOBS).
JobName = Literal[DEFAULT_JOBS]  # type: ignore[valid-type]

# HIGH, MEDIUM or LOW, in any case ('high' from a command line is HIGH).
PriorityChoice = Annotated[Priority, BeforeValidator(Priority.parse)]


def check_region(value: str | None) -> str | None:
    """None, or one of REGIONS; anything else is a ValueError naming the choices."""
    if value is not None and value not in REGIONS:
        raise ValueError(f"region: {value!r} is not a region ({', '.join(REGIONS)})")
    return value
