"""The pools file: every pool the code holds is sized there; a bad entry is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from multistore.pools import POOL_NAMES, load_pools, rate_name


def test_the_project_file_sizes_every_pool_the_code_holds() -> None:
    specs = {spec.name: spec for spec in load_pools()}
    assert set(POOL_NAMES) <= set(specs)
    # The clients that wait for a rate (multistore.clients: dnc, dealercom, shortener) have one.
    for name in ("api:dnc", "api:dealercom", "api:shortener"):
        assert specs[name].per_minute is not None and specs[name].rate_name == rate_name(name)


def test_a_bad_pool_is_one_line_naming_file_pool_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "pools.yaml"
    bad.write_text("pools:\n  browser: {limit: 0}\n")
    with pytest.raises(ValueError) as info:
        load_pools(bad)
    assert str(info.value).startswith(f"{bad}: pool 'browser': limit: ")
    assert "\n" not in str(info.value)
