"""Do-not-call compliance: the rules, each contact's outcome, and the statistics of a run.

Per phone (after NANP normalisation and the scrub service's verdict, codes as DNC.com's):
- invalid (our NANP rule, or the vendor's I/M): not callable, never scrubbed twice;
- the customer's own do-not-call request (`DoNotCallRequestDate`): blocked ("request"), whatever
  the vendor says, and it overrides any exemption;
- P (the company's internal DNC list): blocked, no exemption;
- D (a federal or state DNC list): blocked, unless an established business relationship exempts
  it: the last purchase at most `purchase_months` before the run date, or the last inquiry at most
  `inquiry_months` before it (per state where the law differs; `None` means no such exemption);
- E (the vendor found a valid EBR): callable, counted as exempt;
- C, W (wireless, recorded in the tallies), Y, O: callable;
- any other code (B area not subscribed, L wireless in a prohibited state, unknown): blocked.

Per contact, the desired CRM `DoNotCall` flag is True when the contact made a request, OR any of
its valid phones is blocked (a dialer must not reach the contact on any of its numbers), OR it
has no valid phone at all (nothing may be called). The contact's reason is the first that applies
of: request, P, D, another blocking code, "no valid phone". So `callable + sum(blocked_by_reason)
+ invalid == contacts`, where `invalid` counts the contacts without a valid phone (and no other
reason). The CRM's existing flag is an output of this rule, not an input: staff record customers'
requests as `DoNotCallRequestDate`, which is.

compliance_rate: the share of contacts whose CRM flag after the run equals the rule's outcome,
the flags after being read back from the CRM (a save the CRM lost leaves its contact wrong); the
flags counted as changed are those the read-back confirms.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field, ValidationError

from multistore import datafiles, phones

RULES_FILE = "compliance.yaml"

REQUEST = "request"
NO_VALID_PHONE = "no valid phone"
CALLABLE_CODES = frozenset({"C", "W", "E", "Y", "O"})
VENDOR_INVALID = frozenset({"I", "M"})
EXEMPTABLE = frozenset({"D"})
# Contact reasons in precedence order; other blocking codes come after these, alphabetically.
REASON_ORDER = (REQUEST, "P", "D")

RESULT_COLUMNS = [
    "contact_id",
    "phone_index",
    "phone_raw",
    "phone_type",
    "e164",
    "valid",
    "invalid_reason",
    "annotation",
    "code",
    "reason",
    "exempt",
    "callable",
    "flag_before",
    "flag_after",
]


class EBRWindow(BaseModel):
    """How long an established business relationship exempts a DNC-listed number."""

    purchase_months: int | None = Field(default=18, ge=0)
    inquiry_months: int | None = Field(default=3, ge=0)


class ComplianceRules(BaseModel):
    default: EBRWindow = Field(default_factory=EBRWindow)
    # Two-letter state → its own window (the contact's `State` picks it).
    by_state: dict[str, EBRWindow] = Field(default_factory=dict)

    def window(self, state: str | None) -> EBRWindow:
        return self.by_state.get((state or "").upper(), self.default)


def load_rules(path: Path | None = None) -> ComplianceRules:
    """The rules file (the data directory's compliance.yaml, else the packaged default); federal
    defaults when there is none."""
    path = datafiles.find(RULES_FILE, path)
    raw = datafiles.read(path)
    try:
        return ComplianceRules(**raw.get("ebr", {}))
    except (ValidationError, TypeError) as exc:
        raise ValueError(f"{path}: ebr.{datafiles.first_error(exc)}") from None


def phone_rows(contacts: list[dict[str, Any]]) -> pd.DataFrame:
    """CRM contacts (VinSolutions-shaped) as one row per phone, sorted by contact then phone;
    a contact without phones keeps one row with `phone_raw` None. A contact without a ContactId
    is refused naming its position."""
    rows = []
    for position, contact in enumerate(contacts):
        contact_id = contact.get("ContactId")
        if not contact_id:
            raise ValueError(f"contacts[{position}]: no ContactId")
        info = contact.get("ContactInformation") or {}
        for field in ("LastPurchaseDate", "LastInquiryDate", "DoNotCallRequestDate"):
            _check_date(contact.get(field), f"contact {contact_id}: {field}")
        base = {
            "contact_id": str(contact_id),
            "state": contact.get("State"),
            "last_purchase": contact.get("LastPurchaseDate"),
            "last_inquiry": contact.get("LastInquiryDate"),
            "request_date": contact.get("DoNotCallRequestDate"),
            "flag_before": bool(info.get("DoNotCall")),
        }
        numbers = info.get("Phones") or [{}]
        for index, phone in enumerate(numbers):
            rows.append(
                {
                    **base,
                    "phone_index": index,
                    "phone_raw": phone.get("Number"),
                    "phone_type": phone.get("PhoneType"),
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "contact_id",
            "phone_index",
            "phone_raw",
            "phone_type",
            "state",
            "last_purchase",
            "last_inquiry",
            "request_date",
            "flag_before",
        ],
    )
    frame["flag_before"] = frame["flag_before"].astype(bool)  # bool even with no contacts
    frame = frame.sort_values(["contact_id", "phone_index"], kind="stable", ignore_index=True)
    normalised = phones.normalise(frame["phone_raw"])
    for column in ("digits", "e164", "valid", "invalid_reason", "annotation"):
        frame[column] = normalised[column].to_numpy()
    frame["invalid_reason"] = frame["invalid_reason"].astype("string")
    frame["annotation"] = frame["annotation"].astype("string")  # string even when all null
    return frame


def apply_rules(
    rows: pd.DataFrame,
    verdicts: Mapping[str, tuple[str, str]],
    run_date: date,
    rules: ComplianceRules | None = None,
) -> pd.DataFrame:
    """`rows` (from `phone_rows`) with the scrub's `code`/`reason` (by 10-digit number) and the
    rule's `exempt`, `callable` and `block` (the phone's blocking reason, None when callable)."""
    rules = rules or ComplianceRules()
    out = rows.copy()
    digits = out["digits"].astype(object).where(out["valid"], None)
    verdict = digits.map(lambda d: verdicts.get(d) if isinstance(d, str) else None)
    missing = out["valid"] & verdict.isna()
    if missing.any():
        first = out.loc[missing, "digits"].iloc[0]
        raise ValueError(f"scrub verdicts: no answer for number {first} ({missing.sum()} missing)")
    out["code"] = pd.array([v[0] if v else None for v in verdict], dtype="string")
    out["reason"] = pd.array([v[1] if v else None for v in verdict], dtype="string")

    vendor_invalid = out["code"].isin(list(VENDOR_INVALID)).fillna(False).astype(bool)
    out.loc[vendor_invalid, "invalid_reason"] = "scrub: " + out.loc[vendor_invalid, "reason"]
    out["valid"] = out["valid"] & ~vendor_invalid

    requested = out["request_date"].notna()
    in_ebr = _within_ebr(out, run_date, rules)
    code = out["code"].fillna("")
    exemptable = code.isin(list(EXEMPTABLE)) & in_ebr
    out["exempt"] = (out["valid"] & ~requested & (exemptable | (code == "E"))).astype(bool)
    ok_code = code.isin(list(CALLABLE_CODES)) | exemptable
    out["callable"] = (out["valid"] & ~requested & ok_code).astype(bool)

    block = pd.Series(None, index=out.index, dtype="string")
    block[out["valid"] & ~out["callable"]] = code[out["valid"] & ~out["callable"]]
    block[~out["valid"]] = NO_VALID_PHONE
    block[requested] = REQUEST
    out["block"] = block
    return out


def contact_outcomes(evaluated: pd.DataFrame) -> pd.DataFrame:
    """One row per contact (sorted by id): `flag_before`, `do_not_call` (the rule's flag) and
    `reason` (None when callable)."""
    valid = evaluated[evaluated["valid"]]
    blocking = valid[~valid["callable"]]
    has_valid = evaluated["contact_id"].isin(valid["contact_id"])
    requested = evaluated.loc[evaluated["block"] == REQUEST, "contact_id"]

    reasons: dict[str, str] = {}
    for contact_id, codes in blocking.groupby("contact_id")["block"]:
        reasons[contact_id] = min(codes.dropna(), key=_reason_rank)
    for contact_id in evaluated.loc[~has_valid, "contact_id"]:
        reasons[contact_id] = NO_VALID_PHONE
    for contact_id in requested:
        reasons[contact_id] = REQUEST

    contacts = evaluated.groupby("contact_id", sort=True)["flag_before"].first().reset_index()
    contacts["reason"] = pd.array(
        [reasons.get(cid) for cid in contacts["contact_id"]], dtype="string"
    )
    contacts["do_not_call"] = contacts["reason"].notna().to_numpy()
    return contacts[["contact_id", "flag_before", "do_not_call", "reason"]]


def confirmed_flags(before: Mapping[str, bool], read_back: list[dict[str, Any]]) -> dict[str, bool]:
    """Each contact's DoNotCall flag as the CRM holds it after the run (read back); a contact
    the read-back no longer lists keeps its flag from before."""
    held = {
        str(c.get("ContactId")): bool((c.get("ContactInformation") or {}).get("DoNotCall"))
        for c in read_back
    }
    return {cid: held.get(cid, flag) for cid, flag in before.items()}


def flag_changes(outcomes: pd.DataFrame) -> dict[str, bool]:
    """The contacts whose CRM flag differs from the rule's outcome: contact id → flag to set."""
    differs = outcomes[outcomes["flag_before"] != outcomes["do_not_call"]]
    return dict(zip(differs["contact_id"], differs["do_not_call"].astype(bool), strict=True))


def results_frame(evaluated: pd.DataFrame, flags_after: Mapping[str, bool]) -> pd.DataFrame:
    """The rows written to Parquet, in a deterministic order (contact id, phone position)."""
    out = evaluated.copy()
    # Explicit bool dtypes: with no contacts a plain list gives float64 and phone_rows an
    # object column, and the partitioned dataset needs one schema across runs.
    out["flag_before"] = out["flag_before"].astype(bool)
    out["flag_after"] = pd.array([bool(flags_after[cid]) for cid in out["contact_id"]], dtype=bool)
    out["phone_index"] = out["phone_index"].astype("int64")
    for column in ("contact_id", "phone_raw", "phone_type", "e164"):
        out[column] = out[column].astype("string")
    return out[RESULT_COLUMNS].sort_values(["contact_id", "phone_index"], ignore_index=True)


def statistics(
    evaluated: pd.DataFrame, outcomes: pd.DataFrame, flags_after: Mapping[str, bool]
) -> dict[str, Any]:
    """The run's compliance statistics, a plain JSON-able dict (see the module docstring)."""
    has_phone = evaluated["phone_raw"].notna()
    reasons = outcomes["reason"].dropna()
    blocked = reasons[reasons != NO_VALID_PHONE].value_counts()
    after = outcomes["contact_id"].map(lambda cid: bool(flags_after[cid]))
    contacts = len(outcomes)
    changed = int((after != outcomes["flag_before"]).sum())
    return {
        "contacts": contacts,
        "phones": int(has_phone.sum()),
        "unique_numbers": int(evaluated.loc[evaluated["valid"], "digits"].nunique()),
        "invalid_phones": int((has_phone & ~evaluated["valid"]).sum()),
        # Numbers nobody scrubbed are a compliance risk: how many, and why, per reason.
        "invalid_by_reason": {
            str(k): int(v)
            for k, v in evaluated.loc[has_phone & ~evaluated["valid"], "invalid_reason"]
            .value_counts()
            .items()
            if v
        },
        "annotated_phones": int(evaluated["annotation"].notna().sum()),
        "codes": {k: int(v) for k, v in sorted(evaluated["code"].dropna().value_counts().items())},
        "wireless": int((evaluated["code"] == "W").fillna(False).sum()),
        "exempted": int(evaluated["exempt"].sum()),
        "callable": int((~outcomes["do_not_call"]).sum()),
        "blocked_by_reason": {k: int(blocked[k]) for k in sorted(blocked.index, key=_reason_rank)},
        "invalid": int((reasons == NO_VALID_PHONE).sum()),
        "flags_changed": changed,
        "flags_set": int((after & ~outcomes["flag_before"]).sum()),
        "flags_cleared": int((~after & outcomes["flag_before"]).sum()),
        "compliance_rate": (float((after == outcomes["do_not_call"]).mean()) if contacts else 1.0),
    }


def _check_date(value: Any, where: str) -> None:
    if value is None:
        return
    try:
        date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a YYYY-MM-DD date") from None


def _within_ebr(rows: pd.DataFrame, run_date: date, rules: ComplianceRules) -> pd.Series:
    """Whether each row's contact is inside its state's EBR window on `run_date`."""
    run = pd.Timestamp(run_date)
    purchase = pd.to_datetime(rows["last_purchase"], errors="coerce", format="%Y-%m-%d")
    inquiry = pd.to_datetime(rows["last_inquiry"], errors="coerce", format="%Y-%m-%d")
    inside = pd.Series(False, index=rows.index)
    states = rows["state"].fillna("").str.upper()
    for state in states.unique():
        window = rules.window(state)
        mine = states == state
        for dates, months in ((purchase, window.purchase_months), (inquiry, window.inquiry_months)):
            if months is None:
                continue
            until = dates[mine] + pd.DateOffset(months=months)
            inside[mine] |= ((dates[mine] <= run) & (until >= run)).fillna(False)
    return inside


def _reason_rank(reason: str) -> tuple[int, str]:
    if reason in REASON_ORDER:
        return (REASON_ORDER.index(reason), reason)
    return (len(REASON_ORDER), reason)
