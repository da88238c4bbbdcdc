"""The allocation engine: its invariants for every strategy (Hypothesis), the vectorised engine
against the per-product reference, and the rules stated in allocation.py by example."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from multistore.channels.allocation import (
    AllocationError,
    Channel,
    Policy,
    Rule,
    Strategy,
    allocate,
)
from multistore.channels.reference import allocate_loop

NAMES = ["shopify", "square", "ebay", "amazon", "custom"]


@st.composite
def cases(draw: st.DrawFn) -> tuple[pd.DataFrame, Policy, dict]:
    n = draw(st.integers(1, 25))
    m = draw(st.integers(1, 5))
    names = NAMES[:m]
    counts = st.integers(-5, 500)
    stock = pd.DataFrame(
        {
            "on_hand": draw(st.lists(counts, min_size=n, max_size=n)),
            "reserved": draw(st.lists(st.integers(0, 60), min_size=n, max_size=n)),
            "category": draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n)),
        },
        index=[f"S{i}" for i in range(n)],
    )
    channels = tuple(
        Channel(
            name,
            priority=draw(st.integers(0, 3)),
            weight=draw(st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.0])),
            min_units=draw(st.integers(0, 4)),
            max_units=draw(st.one_of(st.none(), st.integers(0, 40))),
            enabled=draw(st.booleans()) or name == names[0],
            safety_units=draw(st.sampled_from([0, 0, 1, 3])),
        )
        for name in names
    )
    rules = tuple(
        Rule(
            draw(st.sampled_from(names)),
            where=draw(st.sampled_from([{}, {"category": "b"}])),
            weight=draw(st.one_of(st.none(), st.floats(0, 10))),
            max_units=draw(st.one_of(st.none(), st.integers(0, 30))),
            exclude=draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    policy = Policy(
        channels,
        strategy=draw(st.sampled_from(list(Strategy))),
        buffer_units=draw(st.integers(0, 5)),
        buffer_percent=draw(st.sampled_from([0.0, 2.5, 10.0, 33.3])),
        rules=rules,
    )
    history = st.one_of(st.just(np.nan), st.floats(0, 100), st.integers(-3, 50))
    matrix = [[draw(history) for _ in names] for _ in range(n)]
    frame = pd.DataFrame(matrix, index=stock.index, columns=names)
    return stock, policy, {"sales": frame, "forecast": frame}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_invariants_for_every_strategy(case: tuple[pd.DataFrame, Policy, dict]) -> None:
    stock, policy, inputs = case
    out = allocate(stock, policy, **inputs)
    units = out[policy.names]
    available = np.maximum(stock["on_hand"] - stock["reserved"], 0)

    # A channel at 0 is a value: every cell is a whole number, none missing.
    assert not units.isna().any().any()
    assert all(dtype == np.int64 for dtype in units.dtypes)
    assert (units >= 0).all().all()
    # Never more than available, and no unit lost: what is not allocated is buffer or held.
    assert (units.sum(axis=1) <= available).all()
    assert (units.sum(axis=1) + out["held"] + out["buffer"] == available).all()
    assert (out["available"] == available).all()
    # Safety units come off each channel's own share and are held, not handed to the others.
    bare = Policy(
        tuple(replace(c, safety_units=0) for c in policy.channels),
        policy.strategy,
        policy.buffer_units,
        policy.buffer_percent,
        policy.smoothing,
        policy.rules,
    )
    shares = allocate(stock, bare, **inputs)
    safety = pd.Series({c.name: c.safety_units for c in policy.channels})
    assert (units == (shares[policy.names] - safety).clip(lower=0)).all().all()
    kept = (shares[policy.names] - units).sum(axis=1)
    assert (out["held"] == shares["held"] + kept).all()
    # Otherwise units are held only when every channel that may sell the product is at its cap.
    caps = _caps(stock, policy)
    held = shares["held"] > 0
    assert (shares[policy.names][held] >= caps[held]).all().all()
    # Caps and disabled channels are honoured.
    assert (units <= caps).all().all()
    # The same units as the per-product reference, cell for cell.
    pd.testing.assert_frame_equal(out, allocate_loop(stock, policy, **inputs))


def _caps(stock: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    big = np.iinfo(np.int64).max
    caps = pd.DataFrame(
        {c.name: big if c.max_units is None else c.max_units for c in policy.channels},
        index=stock.index,
    )
    for rule in policy.rules:
        mask = np.ones(len(stock), dtype=bool)
        for col, value in rule.where.items():
            mask &= (stock[col] == value).to_numpy()
        if rule.max_units is not None:
            caps.loc[mask, rule.channel] = rule.max_units
        if rule.exclude:
            caps.loc[mask, rule.channel] = 0
    for c in policy.channels:
        if not c.enabled:
            caps[c.name] = 0
    return caps


def _stock(*on_hand: int, reserved: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {"on_hand": list(on_hand), "reserved": reserved},
        index=[f"S{i}" for i in range(len(on_hand))],
    )


def test_equal_hands_out_the_remainder_to_higher_priority() -> None:
    policy = Policy((Channel("a", priority=1), Channel("b", priority=3), Channel("c")))
    out = allocate(_stock(10), policy)
    assert out.loc["S0", ["a", "b", "c"]].tolist() == [3, 4, 3]


def test_available_is_on_hand_minus_reserved_and_buffer_is_whole_units() -> None:
    policy = Policy((Channel("a"), Channel("b")), buffer_percent=10)
    out = allocate(_stock(21, reserved=5), policy)
    # 16 available, 10 % = 1.6 → a buffer of 2 whole units, 14 shared.
    assert out.loc["S0"].to_dict() == {"a": 7, "b": 7, "held": 0, "buffer": 2, "available": 16}


def test_fractional_buffer_is_refused() -> None:
    with pytest.raises(AllocationError, match="buffer_units must be a whole number"):
        Policy((Channel("a"),), buffer_units=1.5)  # type: ignore[arg-type]


def test_priority_performance_and_demand_follow_their_weights() -> None:
    channels = (Channel("a", priority=3), Channel("b", priority=1))
    stock = _stock(8)
    assert allocate(stock, Policy(channels, Strategy.PRIORITY)).loc["S0", "a"] == 6
    sales = pd.DataFrame({"a": [0], "b": [6]}, index=stock.index)
    perf = allocate(stock, Policy(channels, Strategy.PERFORMANCE, smoothing=1), sales=sales)
    assert perf.loc["S0", ["a", "b"]].tolist() == [1, 7]
    forecast = pd.DataFrame({"a": [3.0], "b": [1.0]}, index=stock.index)
    demand = allocate(stock, Policy(channels, Strategy.DEMAND), forecast=forecast)
    assert demand.loc["S0", ["a", "b"]].tolist() == [6, 2]


def test_no_forecast_at_all_splits_equally_rather_than_holding_stock() -> None:
    stock = _stock(5)
    forecast = pd.DataFrame({"a": [0.0], "b": [np.nan]}, index=stock.index)
    out = allocate(stock, Policy((Channel("a"), Channel("b")), Strategy.DEMAND), forecast=forecast)
    assert out.loc["S0", ["a", "b", "held"]].tolist() == [3, 2, 0]


def test_a_cap_hands_its_excess_to_the_others_and_holds_only_when_all_are_capped() -> None:
    policy = Policy((Channel("a", max_units=2), Channel("b", max_units=5)))
    out = allocate(_stock(4, 20), policy)
    assert out.loc["S0", ["a", "b", "held"]].tolist() == [2, 2, 0]
    assert out.loc["S1", ["a", "b", "held"]].tolist() == [2, 5, 13]


def test_custom_rules_match_products_by_column_and_prefix() -> None:
    stock = pd.DataFrame(
        {"on_hand": [10, 10, 10], "category": ["tyres", "oil", "oil"]},
        index=["T-1", "O-1", "X-1"],
    )
    policy = Policy(
        (Channel("a"), Channel("b")),
        Strategy.CUSTOM,
        rules=(
            Rule("b", where={"category": "tyres"}, exclude=True),
            Rule("a", sku_prefix="X-", weight=4.0),
        ),
    )
    out = allocate(stock, policy)
    assert out.loc["T-1", ["a", "b"]].tolist() == [10, 0]
    assert out.loc["O-1", ["a", "b"]].tolist() == [5, 5]
    assert out.loc["X-1", ["a", "b"]].tolist() == [8, 2]


def test_negative_on_hand_sells_nothing() -> None:
    out = allocate(_stock(-3), Policy((Channel("a"), Channel("b"))))
    assert out.loc["S0"].tolist() == [0, 0, 0, 0, 0]


def test_bad_policy_fields_are_one_line_errors() -> None:
    with pytest.raises(AllocationError, match="strategy: 'fifo' is not one of"):
        Policy.from_mapping({"channels": ["a"], "strategy": "fifo"})
    with pytest.raises(AllocationError, match="unknown channel 'zz'"):
        Policy.from_mapping({"channels": ["a"], "rules": [{"channel": "zz", "exclude": True}]})
    with pytest.raises(AllocationError, match=r"needs a \(SKU × channel\) frame"):
        allocate(_stock(3), Policy((Channel("a"),), Strategy.DEMAND))
