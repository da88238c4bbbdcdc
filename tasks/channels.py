"""The channel sync's tasks: each wraps one step of multistore.channels.sync, tagged with the
vendor it calls (a name to filter runs by, not a limit: the vendors' pools are held by the call
policy). Clients and frames are not hashed for caching (cache_policy=NONE)."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from multistore.channels.allocation import Policy, allocate
from multistore.channels.connectors import ChannelClient, StockroomClient
from multistore.channels.reservations import Reservations
from multistore.channels.sync import ChannelReport, read_stock, sync_channel


@task(name="read-stock", cache_policy=NONE, tags=["stockroom"])
def read_stock_task(store_id: str, stockroom: StockroomClient) -> pd.DataFrame:
    return read_stock(store_id, stockroom, Reservations())


@task(name="allocate", cache_policy=NONE)
def allocate_task(stock: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    return allocate(stock, policy)


@task(name="sync-channel", cache_policy=NONE)
def sync_channel_task(name: str, client: ChannelClient, target: pd.Series) -> ChannelReport:
    report = sync_channel(client, target)
    report.channel = name
    return report
