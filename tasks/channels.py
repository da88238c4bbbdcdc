"""The channel sync's tasks: each wraps one step of multistore.channels.sync, tagged with the
vendor it calls. Clients and frames are not hashed for caching (cache_policy=NONE)."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from multistore.channels.allocation import Policy, allocate
from multistore.channels.connectors import ChannelClient, StockroomClient
from multistore.channels.reservations import Reservations
from multistore.channels.sync import ChannelReport, Shown, read_channel, read_stock, sync_channel


@task(name="read-stock", cache_policy=NONE, tags=["api:stockroom"])
def read_stock_task(store_id: str, stockroom: StockroomClient) -> pd.DataFrame:
    return read_stock(store_id, stockroom, Reservations())


@task(name="allocate", cache_policy=NONE)
def allocate_task(stock: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    return allocate(stock, policy)


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
