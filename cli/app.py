"""The `multistore` command: the registry's verbs (multistore/cli.py) with every part's own.

The composition root, and the only place that knows all the parts: the Prefect-free core's verbs,
the Prefect side (setup, run-store, the parent flow behind `run`, channel sync) and the sandbox.
Each part adds its verbs through its `register(app)`; the Prefect modules import Prefect inside
their commands, so `multistore --help` stays fast.
"""

from __future__ import annotations

from flows import cli_channels as channel_sync_verbs
from flows import cli_run, cli_setup
from multistore import (
    cli_channels,
    cli_graph,
    cli_network,
    cli_ops,
    cli_schedule,
    cli_supply,
)
from multistore.cli import app, attach_runs
from sandbox import cli as sandbox_verbs

for part in (
    sandbox_verbs,
    cli_setup,
    cli_graph,
    cli_schedule,
    cli_ops,
    cli_network,
    cli_supply,
    cli_channels,
    channel_sync_verbs,
):
    part.register(app)
attach_runs(cli_run)

__all__ = ["app"]
