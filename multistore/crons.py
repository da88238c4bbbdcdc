"""Cron expressions on a store's wall clock, read by croniter (the parser Prefect's own cron
schedules use, vendored inside Prefect), so a cron means here what it means in prefect.yaml.

A cron is evaluated on naive local wall-clock times; `multistore.occurrences` turns each fire time
into an instant with the rule of `multistore.windows` (a time skipped by a spring-forward jump
fires at the jump; a time repeated by a fall-back is one fire, at its first instant).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from croniter import croniter

# The cadence is the shortest gap between two fires over this many fires (or a year of them):
# enough to see the short gap of "0 8,9 * * *" or the weekend gap of "0 2 * * 1-5".
_CADENCE_FIRES = 800
_CADENCE_REFERENCE = datetime(2026, 1, 1)


def check_cron(expr: str) -> str:
    """A five-field cron ('0 */4 * * *'); anything else is a ValueError naming it."""
    if not isinstance(expr, str) or len(expr.split()) != 5 or not croniter.is_valid(expr):
        raise ValueError(f"{expr!r} is not a cron expression (five fields: m h dom mon dow)")
    return " ".join(expr.split())


@lru_cache(maxsize=1024)
def cadence(expr: str) -> timedelta:
    """The shortest time between two consecutive fires of `expr` (wall clock)."""
    it = croniter(check_cron(expr), _CADENCE_REFERENCE)
    previous = it.get_next(datetime)
    shortest: timedelta | None = None
    for _ in range(_CADENCE_FIRES):
        current = it.get_next(datetime)
        gap = current - previous
        shortest = gap if shortest is None else min(shortest, gap)
        if current - _CADENCE_REFERENCE > timedelta(days=366):
            break
        previous = current
    assert shortest is not None
    return shortest


def wall_fires(expr: str, after: datetime, until: datetime) -> list[datetime]:
    """The naive wall-clock fire times t with after < t <= until."""
    it = croniter(expr, after)
    fires = []
    while True:
        fire = it.get_next(datetime)
        if fire > until:
            return fires
        fires.append(fire)
