"""`multistore channels | conflicts | allocation | reservations`: a store's sales channels from a
terminal. Composed into the command by cli/app.py; no Prefect here.

    multistore channels list [STORE]
    multistore channels connect STORE NAME --type shopify [--block B] [--priority N] ...
    multistore channels disconnect STORE NAME
    multistore channels policy STORE [--strategy S] [--buffer-units N] [--buffer-percent P]
    multistore conflicts list [STORE] [--status queued|open|resolved|all]
    multistore conflicts resolve ID --value V --by NAME [--note TEXT]
    multistore allocation show STORE [--sku SKU]
    multistore reservations reserve STORE SKU QTY --order ID [--hold-minutes M]
    multistore reservations confirm ID | release ID
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pandas as pd
import typer

from multistore.channels.allocation import AllocationError, allocate
from multistore.channels.history import SalesHistory, demand
from multistore.channels.reservations import Hold, ReservationError, Reservations
from multistore.channels.review import ConflictBook, ConflictNotFound
from multistore.channels.stores import ChannelConfigError, StoreChannels, safety_units
from multistore.cli_output import console, emit_json, fail, local_time, table
from multistore.registry import UnknownStoreError
from multistore.settings import get_settings

Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Store = Annotated[str, typer.Argument(metavar="STORE", help="The store's id.")]

channels_app = typer.Typer(help="A store's sales channels.", no_args_is_help=True)
conflicts_app = typer.Typer(help="Conflicts between the store and its channels.")
allocation_app = typer.Typer(help="What each channel may sell.", no_args_is_help=True)
reservations_app = typer.Typer(help="Stock held for orders.", no_args_is_help=True)

ERRORS = (ChannelConfigError, UnknownStoreError, AllocationError, ReservationError)


@channels_app.command("list")
def channels_list(store_id: Annotated[str | None, typer.Argument()] = None, as_json: Json = False):
    """The channels connected to a store (or to every store)."""
    rows = [
        {
            "store": c.store_id,
            "channel": c.name,
            "type": c.type,
            "block": c.block,
            "priority": c.priority,
            "weight": c.weight,
            "min": c.min_units,
            "max": c.max_units,
            "enabled": c.enabled,
            "safety": safety_units(c),
        }
        for c in StoreChannels().list(store_id)
    ]
    if as_json:
        emit_json(rows)
    elif rows:
        table("channels", list(rows[0]), [list(r.values()) for r in rows])
    else:
        console.print("no channel connected")


@channels_app.command("connect")
def channels_connect(
    store_id: Store,
    name: Annotated[str, typer.Argument(help="The channel's name in this store.")],
    type_: Annotated[str, typer.Option("--type", help="shopify, square, ebay, amazon, custom")],
    block: Annotated[str | None, typer.Option(help="Block with the credentials.")] = None,
    priority: int | None = None,
    weight: float | None = None,
    min_units: Annotated[int | None, typer.Option("--min")] = None,
    max_units: Annotated[int | None, typer.Option("--max")] = None,
    safety_units: Annotated[
        int | None,
        typer.Option(
            "--safety",
            help="Units of each product held back from this channel (default: 1 for eBay and "
            "custom, 2 for Amazon, 0 for Shopify and Square).",
        ),
    ] = None,
    disabled: bool = False,
    as_json: Json = False,
):
    """Connect a channel (or change its settings); credentials stay in the block."""
    try:
        row = StoreChannels().connect(
            store_id,
            name,
            type_,
            block=block,
            priority=priority,
            weight=weight,
            min_units=min_units,
            max_units=max_units,
            safety_units=safety_units,
            enabled=not disabled,
        )
    except ERRORS as exc:
        fail(str(exc))
    _done(as_json, {"store": store_id, "channel": name, "block": row.block}, "connected")


@channels_app.command("disconnect")
def channels_disconnect(store_id: Store, name: str, as_json: Json = False):
    """Stop selling on a channel (its block is left as it is)."""
    try:
        StoreChannels().disconnect(store_id, name)
    except ERRORS as exc:
        fail(str(exc))
    _done(as_json, {"store": store_id, "channel": name}, "disconnected")


@channels_app.command("policy")
def channels_policy(
    store_id: Store,
    strategy: Annotated[str | None, typer.Option(help="equal, priority, performance, …")] = None,
    buffer_units: int | None = None,
    buffer_percent: float | None = None,
    as_json: Json = False,
):
    """Set the store's allocation strategy and buffer (whole units, or a percentage rounded up)."""
    try:
        row = StoreChannels().set_policy(
            store_id,
            strategy=strategy,
            buffer_units=buffer_units,
            buffer_percent=buffer_percent,
        )
    except ERRORS as exc:
        fail(str(exc))
    _done(as_json, row.model_dump(), f"{store_id}: {row.strategy}")


@conflicts_app.command("list")
def conflicts_list(
    store_id: Annotated[str | None, typer.Argument()] = None,
    status: Annotated[str, typer.Option(help="queued, open, resolved or all")] = "queued",
    as_json: Json = False,
):
    """The conflicts waiting for a person (or any status)."""
    rows = [
        {
            "id": c.id,
            "store": c.store_id,
            "kind": c.kind,
            "sku": c.sku,
            "channel": c.channel,
            "expected": c.expected,
            "observed": c.observed,
            "status": c.status,
            "detected": local_time(c.detected_at),
            "detail": c.detail,
        }
        for c in ConflictBook().list(store_id, status=None if status == "all" else status)
    ]
    if as_json:
        emit_json(rows)
    elif rows:
        table("conflicts", list(rows[0]), [list(r.values()) for r in rows])
    else:
        console.print(f"no {status} conflict")


@conflicts_app.command("resolve")
def conflicts_resolve(
    conflict_id: int,
    by: Annotated[str, typer.Option("--by", help="Who decides (recorded).")],
    value: Annotated[float | None, typer.Option(help="The settled value, if a number.")] = None,
    note: str | None = None,
    as_json: Json = False,
):
    """Settle a conflict by hand; recorded as user:<by>."""
    try:
        decision = ConflictBook().resolve_by_hand(conflict_id, value=value, who=by, note=note)
    except ConflictNotFound as exc:
        fail(str(exc))
    _done(as_json, decision.model_dump(), f"conflict {conflict_id} resolved by {by}")


@allocation_app.command("show")
def allocation_show(
    store_id: Store,
    sku: Annotated[list[str] | None, typer.Option(help="Only these SKUs.")] = None,
    as_json: Json = False,
):
    """What each channel may sell now: on hand − reserved − buffer, shared by the policy.

    Performance and demand weigh by the sales each channel-sync records and the store's newest
    forecast, as the sync does; with none yet, the split is equal.
    """
    try:
        policy, _ = StoreChannels().policy(store_id)
        stock = Reservations().stock(store_id)
        if sku:
            stock = stock.loc[stock.index.intersection(sku)]
        # Imported here: statsmodels takes a second to import, and only this verb reads forecasts.
        from multistore.network.forecast import latest_demand

        sales = SalesHistory().sales(store_id, policy.names)
        forecast = latest_demand(get_settings().data_dir, store_id=store_id)
        out = allocate(
            stock, policy, sales=sales, forecast=demand(forecast, sales, policy.smoothing)
        )
    except ERRORS as exc:
        fail(str(exc))
    frame = pd.concat([stock, out.drop(columns="available")], axis=1).rename_axis("sku")
    if as_json:
        emit_json(frame.reset_index().to_dict("records"))
    else:
        rows = frame.reset_index().values.tolist()
        table(f"allocation of {store_id} ({policy.strategy})", ["sku", *frame.columns], rows)


@reservations_app.command("reserve")
def reserve(
    store_id: Store,
    sku: str,
    quantity: int,
    order: Annotated[str, typer.Option(help="The order's id (reserving twice is one hold).")],
    hold_minutes: float = 15.0,
    as_json: Json = False,
):
    """Hold units for an order; refused beyond what is available."""
    try:
        hold = Reservations().reserve(
            store_id, sku, quantity, order, hold=timedelta(minutes=hold_minutes)
        )
    except ERRORS as exc:
        fail(str(exc))
    _hold_done(as_json, hold)


@reservations_app.command("confirm")
def confirm(reservation_id: int, as_json: Json = False):
    """The order is placed: the hold no longer expires."""
    try:
        hold = Reservations().confirm(reservation_id)
    except ERRORS as exc:
        fail(str(exc))
    _hold_done(as_json, hold)


@reservations_app.command("release")
def release(reservation_id: int, as_json: Json = False):
    """Give the units back (cancelled, or the inventory system has the sale)."""
    try:
        hold = Reservations().release(reservation_id)
    except ERRORS as exc:
        fail(str(exc))
    _hold_done(as_json, hold)


def _hold_done(as_json: bool, hold: Hold) -> None:
    data = {**hold.__dict__, "expires_at": hold.expires_at}
    _done(as_json, data, f"reservation {hold.id}: {hold.quantity} × {hold.sku} {hold.status}")


def _done(as_json: bool, data: dict, message: str) -> None:
    if as_json:
        emit_json(data)
    else:
        console.print(message, highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(channels_app, name="channels")
    app.add_typer(conflicts_app, name="conflicts")
    app.add_typer(allocation_app, name="allocation")
    app.add_typer(reservations_app, name="reservations")
