"""Vehicle inventory rules: which HomeNet rows are good, and how Dealer.com disagrees with them.

Pure functions on DataFrames and dicts; the tasks do the downloading and the writing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from multistore.vin import vin_problem

# The HomeNet IOL columns a row cannot do without (the feed has many more; they pass through).
REQUIRED_COLUMNS = ("VIN", "Year", "Make", "Model", "SellingPrice")
# The first model year with 17-character VINs; a year past next year's models is a typo.
FIRST_VIN_YEAR = 1981
# Prices are compared to the cent.
PRICE_TOLERANCE = 0.005

# ASCII digits only: other Unicode digits pass str.isdigit/float() but not pandas' casts.
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$", re.ASCII)
_WHOLE = re.compile(r"^\d+$", re.ASCII)
_PRICE = re.compile(r"^\$?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")


class FeedError(ValueError):
    """A whole feed is unusable (not one bad row): the message names the feed and the problem."""


@dataclass(frozen=True)
class HomeNetValidation:
    """Good rows (typed) and rejected rows (as received, plus `row` and `reason`)."""

    vehicles: pd.DataFrame
    rejects: pd.DataFrame

    @property
    def metrics(self) -> dict[str, int]:
        return {"rows": len(self.vehicles) + len(self.rejects), **self.counts}

    @property
    def counts(self) -> dict[str, int]:
        return {"vehicles": len(self.vehicles), "rejects": len(self.rejects)}


def validate_homenet(
    feed: pd.DataFrame, *, source: str, today: date | None = None
) -> HomeNetValidation:
    """Split a HomeNet feed (read with dtype=str) into good rows and rejects with reasons.

    A row is good when its VIN is valid (17 characters, no I/O/Q, check digit) and not a repeat,
    its Year is a whole number from 1981 to next year, SellingPrice is a non-negative number, and
    MSRP is a non-negative number and Miles a non-negative whole number when present. Missing
    required columns fail the feed.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in feed.columns]
    if missing:
        raise FeedError(f"{source}: HomeNet feed lacks column(s) {', '.join(missing)}")
    last_year = (today or date.today()).year + 1
    feed = feed.fillna("").astype(str).map(str.strip)
    seen: dict[str, int] = {}
    reasons: list[str] = []
    for index, record in enumerate(feed.to_dict("records")):
        line = index + 2  # the file's line: a header, then one line per row
        problems = _row_problems(record, last_year)
        vin = record["VIN"].upper()
        if not problems:
            if vin in seen:
                problems.append(f"duplicate VIN {vin} (first on line {seen[vin]})")
            else:
                seen[vin] = line
        reasons.append("; ".join(problems))
    reason = pd.Series(reasons, index=feed.index, dtype=str)
    bad = reason != ""
    rejects = feed[bad].copy()
    rejects.insert(0, "row", (feed.index[bad] + 2).astype(int))
    rejects["reason"] = reason[bad]
    vehicles = _typed(feed[~bad].copy())
    return HomeNetValidation(
        vehicles=vehicles.reset_index(drop=True), rejects=rejects.reset_index(drop=True)
    )


def _row_problems(record: dict[str, str], last_year: int) -> list[str]:
    problems = []
    if vin_error := vin_problem(record["VIN"]):
        problems.append(vin_error)
    year = record["Year"]
    if not _WHOLE.match(year) or not FIRST_VIN_YEAR <= int(year) <= last_year:
        problems.append(f"Year {year!r} is not a model year from {FIRST_VIN_YEAR} to {last_year}")
    for column in ("Make", "Model"):
        if not record[column]:
            problems.append(f"{column} is empty")
    for column, required in (("SellingPrice", True), ("MSRP", False), ("Miles", False)):
        value = record.get(column, "")
        if not value and not required:
            continue
        if column == "Miles":
            # Typed as whole numbers (Int64): a fraction here would fail the whole feed.
            if not _WHOLE.match(value):
                problems.append(f"{column} {value!r} is not a non-negative whole number")
        elif not _NUMBER.match(value) or float(value) < 0:
            problems.append(f"{column} {value!r} is not a non-negative number")
    return problems


def _typed(vehicles: pd.DataFrame) -> pd.DataFrame:
    vehicles["VIN"] = vehicles["VIN"].str.upper()
    vehicles["Year"] = vehicles["Year"].astype(int)
    vehicles["SellingPrice"] = vehicles["SellingPrice"].astype(float)
    for column in ("MSRP", "Miles"):
        if column in vehicles.columns:
            vehicles[column] = pd.to_numeric(vehicles[column].replace("", None), errors="raise")
    if "Miles" in vehicles.columns:
        vehicles["Miles"] = vehicles["Miles"].astype("Int64")
    return vehicles


def parse_price(text: Any, *, where: str = "price") -> float | None:
    """Dealer.com's price strings ("$41,250", "39995.00") as a number; empty is None."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, int | float):
        return float(text)
    cleaned = str(text).strip()
    if not _PRICE.match(cleaned):
        raise ValueError(f"{where}: {text!r} is not a price")
    return float(cleaned.replace("$", "").replace(",", "").strip())


@dataclass
class Reconciliation:
    """How the Dealer.com listing differs from the HomeNet vehicles, one row per difference."""

    issues: pd.DataFrame
    listed: int
    matched: int
    metrics: dict[str, int] = field(default_factory=dict)


ISSUE_COLUMNS = ["vin", "issue", "homenet_price", "dealercom_price", "detail"]


def reconcile(vehicles: pd.DataFrame, listing: list[dict[str, Any]]) -> Reconciliation:
    """Compare HomeNet's good rows (VIN, SellingPrice) with Dealer.com listing items.

    Issues: `missing` (in HomeNet, not listed), `extra` (listed, not in HomeNet), `price_mismatch`
    (finalPrice differs from SellingPrice by a cent or more), `unreadable` (a listed item whose
    VIN or price cannot be read).
    """
    homenet = dict(zip(vehicles["VIN"].str.upper(), vehicles["SellingPrice"], strict=True))
    issues: list[dict[str, Any]] = []
    listed: dict[str, float | None] = {}
    for position, item in enumerate(listing):
        vin = str(item.get("vin") or "").strip().upper()
        try:
            price = parse_price(
                (item.get("pricing") or {}).get("finalPrice"), where=f"item {position} ({vin})"
            )
        except ValueError as exc:
            issues.append(_issue(vin, "unreadable", detail=str(exc)))
            continue
        if not vin:
            issues.append(_issue(vin, "unreadable", detail=f"item {position} has no vin"))
            continue
        listed[vin] = price
    matched = 0
    for vin, price in homenet.items():
        if vin not in listed:
            issues.append(_issue(vin, "missing", homenet_price=price))
            continue
        matched += 1
        theirs = listed[vin]
        if theirs is None or abs(theirs - price) >= PRICE_TOLERANCE:
            issues.append(
                _issue(vin, "price_mismatch", homenet_price=price, dealercom_price=theirs)
            )
    for vin, price in listed.items():
        if vin not in homenet:
            issues.append(_issue(vin, "extra", dealercom_price=price))
    frame = pd.DataFrame(issues, columns=ISSUE_COLUMNS)
    counts = frame["issue"].value_counts().to_dict()
    metrics = {
        "homenet_vehicles": len(homenet),
        "listed": len(listing),
        "matched": matched,
        **{
            kind: int(counts.get(kind, 0))
            for kind in ("missing", "extra", "price_mismatch", "unreadable")
        },
    }
    return Reconciliation(issues=frame, listed=len(listing), matched=matched, metrics=metrics)


def _issue(
    vin: str,
    issue: str,
    *,
    homenet_price: float | None = None,
    dealercom_price: float | None = None,
    detail: str = "",
) -> dict[str, Any]:
    return {
        "vin": vin,
        "issue": issue,
        "homenet_price": homenet_price,
        "dealercom_price": dealercom_price,
        "detail": detail,
    }
