"""The channel sync's tasks: each wraps one step of multistore.channels.sync. Clients and frames
are not hashed for caching (cache_policy=NONE).

No task carries a tag: Prefect checks each of a task's tags against the server as a tag
concurrency limit when the task starts, with a client that does not retry, so a tag would fail a
sync during a server restart. The vendors' limits are their pools (`api:<vendor>`), whose slots
the clients take through the call policy (tasks/pools.py, waiting through an outage); a run's
task names say which channel it worked on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from multistore.channels.allocation import Policy, allocate
from multistore.channels.connectors import ChannelClient, StockroomClient
from multistore.channels.history import SalesHistory
from multistore.channels.reservations import Reservations
from multistore.channels.sync import (
    ChannelReport,
    Shown,
    Weighed,
    find_conflicts,
    read_channel,
    read_stock,
    sync_channel,
    weigh,
)
from multistore.network.forecast import latest_demand


@task(name="read-stock", cache_policy=NONE)
def read_stock_task(store_id: str, stockroom: StockroomClient) -> pd.DataFrame:
    return read_stock(store_id, stockroom, Reservations())


@task(name="allocate", cache_policy=NONE)
def allocate_task(stock: pd.DataFrame, policy: Policy, weighed: Weighed) -> pd.DataFrame:
    return allocate(stock, policy, **weighed.inputs)


@task(name="sales-and-demand", cache_policy=NONE)
def weigh_task(store_id: str, policy: Policy, shown: dict[str, Shown], data_dir: Path) -> Weighed:
    """Record the channels' sales since the last sync; their history and the store's newest
    forecast (flows/forecast_demand.py), for the performance and demand strategies."""
    return weigh(
        store_id, policy, SalesHistory(), shown, latest_demand(data_dir, store_id=store_id)
    )


@task(name="find-conflicts", cache_policy=NONE)
def find_conflicts_task(
    allocation: pd.DataFrame,
    stock: pd.DataFrame,
    shown: dict[str, Shown],
    reports: dict[str, ChannelReport],
    sold: pd.DataFrame | None,
) -> pd.DataFrame:
    return find_conflicts(allocation, stock, shown, reports, sold)


@task(name="record-levels", cache_policy=NONE)
def record_levels_task(store_id: str, levels: dict[str, pd.DataFrame]) -> None:
    history = SalesHistory()
    for name, frame in levels.items():
        history.left(store_id, name, frame)


@task(name="read-channel", cache_policy=NONE)
def read_channel_task(name: str, client: ChannelClient) -> Shown:
    return read_channel(client)


@task(name="sync-channel", cache_policy=NONE)
def sync_channel_task(
    name: str, client: ChannelClient, target: pd.Series, shown: Shown
) -> ChannelReport:
    report = sync_channel(client, target, shown)
    report.channel = name
    return report
