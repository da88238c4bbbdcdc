"""Configuration files: the data directory's first, the project's next; bad YAML is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from multistore import datafiles
from multistore.compliance import load_rules
from multistore.pools import load_pools


def test_the_data_directorys_file_wins_over_the_projects(isolated_settings: Path) -> None:
    assert datafiles.find("pools.yaml") == datafiles.PROJECT_DATA / "pools.yaml"
    isolated_settings.mkdir(parents=True, exist_ok=True)
    (isolated_settings / "pools.yaml").write_text("pools:\n  browser: {limit: 9}\n")
    assert [(p.name, p.limit) for p in load_pools()] == [("browser", 9)]
    (isolated_settings / "compliance.yaml").write_text(
        "ebr:\n  default: {purchase_months: 3, inquiry_months: 1}\n"
    )
    assert load_rules().default.purchase_months == 3


def test_a_file_that_is_not_yaml_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "pools.yaml"
    bad.write_text("pools:\n  browser: {limit: 1\n")
    with pytest.raises(ValueError) as info:
        load_pools(bad)
    assert str(info.value).startswith(f"{bad}: line ") and "not valid YAML" in str(info.value)
    assert "\n" not in str(info.value)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match=r"expected a mapping at the top, got list"):
        load_pools(bad)
