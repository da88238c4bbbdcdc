"""Regions, hubs, store nodes and machines as people write them (CLI flags, a YAML/JSON file).

Every error is one line naming the entry and the field, like the store file's
(multistore.config); the whole file is checked before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from multistore.config import STORE_ID
from multistore.datafiles import ConfigError, dump, first_error, load
from multistore.network.geo import check_lat, check_lon

SECTIONS = ("regions", "hubs", "nodes", "machines")


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not STORE_ID.match(value):
        raise ValueError(f"{value!r} is not a {what} id (1–64 lowercase letters, digits, hyphens)")
    return value


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Located(_Spec):
    lat: float
    lon: float

    @field_validator("lat")
    @classmethod
    def _lat(cls, value: float) -> float:
        return check_lat(value)

    @field_validator("lon")
    @classmethod
    def _lon(cls, value: float) -> float:
        return check_lon(value)


class RegionSpec(_Located):
    id: str
    name: str = ""
    radius_km: float

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "region")

    @field_validator("radius_km")
    @classmethod
    def _radius(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"radius {value:g} must be > 0 km")
        return value


class HubSpec(_Located):
    id: str
    region: str
    name: str = ""
    address: str = ""
    api_url: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    contacts: dict[str, str] = Field(default_factory=dict)
    stock: dict[str, int] = Field(default_factory=dict)
    max_units_per_request: int = Field(default=500, ge=1)
    max_stops_per_delivery: int = Field(default=8, ge=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "hub")

    @field_validator("stock")
    @classmethod
    def _stock(cls, value: dict[str, int]) -> dict[str, int]:
        for sku, units in value.items():
            if units < 0:
                raise ValueError(f"stock of {sku!r} is negative ({units})")
        return value


class NodeSpec(_Located):
    store: str
    number: int = Field(ge=1)
    api_url: str | None = None
    hours: dict[str, str] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)


class MachineSpec(_Spec):
    id: str
    store: str
    model: str = ""
    serial: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "machine")


SPEC_OF = {"regions": RegionSpec, "hubs": HubSpec, "nodes": NodeSpec, "machines": MachineSpec}
KEY_OF = {"regions": "id", "hubs": "id", "nodes": "store", "machines": "id"}


def parse(section: str, data: Any, *, where: str) -> Any:
    """One entry of `section`; ConfigError '<where>: <field>: <what is wrong>'."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of fields, got {data!r}")
    try:
        return SPEC_OF[section].model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(f"{where}: {first_error(exc)}") from None


def load_network_file(path: Path) -> dict[str, list[Any]]:
    """A YAML/JSON mapping with any of regions, hubs, nodes, machines; all entries checked."""
    raw = load(path) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping with {', '.join(SECTIONS)}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        expected = ", ".join(SECTIONS)
        raise ConfigError(f"{path}: unknown section {unknown[0]!r} (expected {expected})")
    result: dict[str, list[Any]] = {}
    for section in SECTIONS:
        entries = raw.get(section) or []
        if not isinstance(entries, list):
            raise ConfigError(f"{path}: {section}: expected a list")
        seen: dict[str, int] = {}
        specs = []
        for index, entry in enumerate(entries):
            spec = parse(section, entry, where=f"{path}: {section} entry {index}")
            key = getattr(spec, KEY_OF[section])
            if key in seen:
                raise ConfigError(
                    f"{path}: {section} entry {index}: {KEY_OF[section]}: duplicate {key!r} "
                    f"(also entry {seen[key]})"
                )
            seen[key] = index
            specs.append(spec)
        result[section] = specs
    return result


def dump_network_file(document: dict[str, list[dict[str, Any]]], path: Path) -> None:
    dump(document, path)
