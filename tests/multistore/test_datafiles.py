"""Configuration files: the data directory's first, the packaged defaults next; bad YAML is
one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.alerts import load_alerts
from multistore import datafiles
from multistore.breaker import load_policies
from multistore.compliance import load_rules
from multistore.pools import load_pools


def test_the_data_directorys_file_wins_over_the_projects(isolated_settings: Path) -> None:
    assert datafiles.find("pools.yaml") == datafiles.DEFAULTS / "pools.yaml"
    isolated_settings.mkdir(parents=True, exist_ok=True)
    (isolated_settings / "pools.yaml").write_text("pools:\n  browser: {limit: 9}\n")
    assert [(p.name, p.limit) for p in load_pools()] == [("browser", 9)]
    (isolated_settings / "compliance.yaml").write_text(
        "ebr:\n  default: {purchase_months: 3, inquiry_months: 1}\n"
    )
    assert load_rules().default.purchase_months == 3


@pytest.mark.parametrize("loader", [load_pools, load_policies, load_rules, load_alerts])
def test_an_explicitly_named_file_that_is_absent_is_one_line(
    loader, isolated_settings: Path, tmp_path: Path
) -> None:
    """Named but absent is an error, not the defaults: only an unnamed file falls back."""
    absent = tmp_path / "absent.yaml"
    with pytest.raises(datafiles.ConfigError) as info:
        loader(absent)
    (line,) = str(info.value).splitlines()
    assert line.startswith(f"{absent}: no such file; create it, or name none to use ")
    assert str(isolated_settings) in line and line.endswith(" or the packaged default")
    loader()  # unnamed, with none in the data directory: the packaged default


def test_a_file_that_is_not_yaml_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "pools.yaml"
    bad.write_text("pools:\n  browser: {limit: 1\n")
    with pytest.raises(ValueError) as info:
        load_pools(bad)
    assert str(info.value).startswith(f"{bad}: not valid YAML at line 3, column 1: ")
    assert "\n" not in str(info.value)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match=r"expected a mapping at the top, got list"):
        load_pools(bad)


ROOT = Path(__file__).resolve().parents[2]
# setuptools' own build step, as a wheel build runs it: the packages and the package data that
# pyproject.toml declares, laid out as site-packages holds them.
BUILD_PY = """
import sys, warnings
warnings.simplefilter("ignore")
from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution
dist = Distribution({"script_name": "setup.py"})
apply_configuration(dist, "pyproject.toml")
build = dist.get_command_obj("build_py")
build.build_lib = sys.argv[1]
build.ensure_finalized()
build.run()
"""
READ_DEFAULTS = """
import multistore
from multistore.breaker import load_policies
from multistore.compliance import load_rules
from multistore.datafiles import find
from multistore.pools import POOL_NAMES, load_pools
print(multistore.__file__)
for name in ("pools.yaml", "breakers.yaml", "compliance.yaml", "alerts.yaml"):
    assert find(name).is_file() and find(name).is_relative_to(multistore.__path__[0]), name
assert set(POOL_NAMES) <= {p.name for p in load_pools()}
assert load_policies()["homenet"].threshold == 3 and load_rules().by_state
"""


def test_an_installed_package_finds_its_defaults_without_the_checkout(tmp_path: Path) -> None:
    """The packaged defaults travel with the package: built as a wheel lays it out, run from a
    directory with no data/ and without the checkout on the path, every default file is found."""
    lib, elsewhere = tmp_path / "site-packages", tmp_path / "elsewhere"
    elsewhere.mkdir()
    build = [sys.executable, "-c", BUILD_PY, str(lib)]
    subprocess.run(build, cwd=ROOT, check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(lib), "MULTISTORE_DATA_DIR": str(elsewhere / "data")}
    read = [sys.executable, "-c", READ_DEFAULTS]
    done = subprocess.run(read, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(lib)
