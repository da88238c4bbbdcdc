"""The do-not-call scrub task: all of a store's numbers in one task (tag coarse units)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from multistore.clients.dnc import DNCClient


@task(name="dnc-scrub", cache_policy=NONE)
def scrub_numbers(client: DNCClient, numbers: list[str]) -> dict[str, list[str]]:
    """The scrub service's verdict on each (unique, valid, 10-digit) number: [code, reason]."""
    with client:
        return {number: list(verdict) for number, verdict in client.scrub(numbers).items()}
