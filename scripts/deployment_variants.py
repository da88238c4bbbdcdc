"""Write the deployments of prefect.git.yaml and prefect.docker.yaml from prefect.yaml's.

prefect.yaml defines each deployment once. The variants differ only in how the code reaches
the workers (their build, push and pull sections and their work pool, written by hand above a
marker line) and in a suffix on each name (`tick/every-5-minutes-git`), so that all three files
can be deployed to one server. Below the marker this script writes every deployment of
prefect.yaml again with the variant's suffix, tag and work pool, a parent's `store_deployment`
pointing at the variant's store deployment, and the variant's `run_parameters` where prefect.yaml
uses its own. YAML anchors cannot reach across files, hence a generator.

    python scripts/deployment_variants.py           # after editing prefect.yaml: the variants
    python scripts/deployment_variants.py --check   # exit 1, one line per stale file (the tests)
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BASE = "prefect.yaml"
MARKER = "# --- written by scripts/deployment_variants.py from prefect.yaml: edit that, not below"
ALIAS = "__alias__"  # a plain scalar the dump leaves unquoted, turned into `*anchor` after


@dataclass(frozen=True)
class Variant:
    path: str
    suffix: str  # on every deployment name
    tag: str
    # prefect.yaml's definitions.work_pools key → the anchor of the variant's work pool for it
    # (in its hand-written definitions): the same queue in the variant's pool, so the tick keeps
    # its own `ticks` queue, first in the pool, wherever it runs.
    pools: tuple[tuple[str, str], ...]
    runs: str  # how its runs get their code, added to each description


VARIANTS = (
    Variant(
        "prefect.git.yaml",
        "-git",
        "git",
        (("process", "process_pool"), ("process_ticks", "tick_pool")),
        "from a clone of its commit",
    ),
    Variant(
        "prefect.docker.yaml",
        "-docker",
        "docker",
        (("process", "docker_pool"), ("process_ticks", "docker_tick_pool")),
        "in a container",
    ),
)


class VariantError(Exception):
    """prefect.yaml or a variant is not in the shape this script writes from."""


def deployments(base: dict[str, Any], variant: Variant) -> list[dict[str, Any]]:
    """prefect.yaml's deployments as the variant has them (aliases as `__alias__<anchor>`)."""
    definitions = base.get("definitions") or {}
    pools = definitions.get("work_pools") or {}
    anchors = dict(variant.pools)
    run_parameters = definitions.get("run_parameters")
    names = {d["name"] for d in base["deployments"]}
    out = []
    for deployment in base["deployments"]:
        name = deployment["name"]
        used = [key for key, pool in pools.items() if deployment.get("work_pool") is pool]
        if not used:
            raise VariantError(f"{BASE}: {name}: work_pool is not one of definitions.work_pools")
        if used[0] not in anchors:
            raise VariantError(
                f"{BASE}: {name}: {variant.path} has no work pool for definitions.work_pools."
                f"{used[0]}: add one to its head and to Variant.pools in this script"
            )
        item: dict[str, Any] = {}
        for key, value in deployment.items():
            if key == "name":
                item[key] = name + variant.suffix
            elif key == "description":
                item[key] = f"{_renamed(value, names, variant)} Runs {variant.runs}."
            elif key == "tags":
                item[key] = [*value, variant.tag]
            elif key == "work_pool":
                item[key] = ALIAS + anchors[used[0]]
            elif key == "parameters" and value is run_parameters:
                item[key] = ALIAS + "run_parameters"
            elif key == "parameters":
                item[key] = _parameters(value, names, variant)
            elif key == "schedules":
                item[key] = [_schedule(s, names, variant) for s in value]
            else:
                item[key] = copy.deepcopy(value)
        out.append(item)
    return out


def _renamed(text: str, names: set[str], variant: Variant) -> str:
    """'flow/name' of a deployment of prefect.yaml becomes the variant's."""

    def rename(match: re.Match[str]) -> str:
        flow, name = match.group(1), match.group(2)
        return f"'{flow}/{name}{variant.suffix}'" if name in names else match.group(0)

    return re.sub(r"'([\w-]+)/([\w-]+)'", rename, " ".join(text.split()))


def _parameters(parameters: dict[str, Any], names: set[str], variant: Variant) -> dict[str, Any]:
    parameters = copy.deepcopy(parameters)
    target = parameters.get("store_deployment")
    if isinstance(target, str) and target.partition("/")[2] in names:
        parameters["store_deployment"] = target + variant.suffix
    return parameters


def _schedule(schedule: dict[str, Any], names: set[str], variant: Variant) -> dict[str, Any]:
    schedule = copy.deepcopy(schedule)
    if "slug" in schedule:
        schedule["slug"] += variant.suffix
    if "parameters" in schedule:
        schedule["parameters"] = _parameters(schedule["parameters"], names, variant)
    return schedule


class _Dumper(yaml.SafeDumper):
    """prefect.yaml's style: sequences indented under their key, short lists on one line, long
    descriptions folded."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(isinstance(x, str | int | float) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = ">" if len(data) > 80 else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(list, _list)
_Dumper.add_representer(str, _str)


def render(base: dict[str, Any], variant: Variant, head: str) -> str:
    """The variant's text: its hand-written head (up to the marker), then the deployments."""
    blocks = []
    for item in deployments(base, variant):
        text = yaml.dump([item], Dumper=_Dumper, sort_keys=False, width=84, allow_unicode=True)
        blocks.append(re.sub(rf"\b{ALIAS}(\w+)", r"*\1", _indent(text)))
    return f"{head}{MARKER}\ndeployments:\n" + "\n".join(blocks)


def _indent(text: str) -> str:
    return "".join(f"  {line}" if line.strip() else line for line in text.splitlines(True))


def head_of(path: Path) -> str:
    text = path.read_text()
    if MARKER not in text:
        raise VariantError(f"{path.name}: no line '{MARKER}' to write the deployments below")
    return text[: text.index(MARKER)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="where the three files are")
    args = parser.parse_args(argv)
    stale = 0
    try:
        base = yaml.safe_load((args.root / BASE).read_text())
        for variant in VARIANTS:
            path = args.root / variant.path
            text = render(base, variant, head_of(path))
            if path.read_text() == text:
                continue
            if args.check:
                print(
                    f"{variant.path}: its deployments are not {BASE}'s: "
                    "run python scripts/deployment_variants.py",
                    file=sys.stderr,
                )
                stale += 1
            else:
                path.write_text(text)
                print(f"wrote {variant.path}")
    except (OSError, yaml.YAMLError, VariantError, KeyError, TypeError) as exc:
        print(f"deployment_variants: {exc}", file=sys.stderr)
        return 1
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
