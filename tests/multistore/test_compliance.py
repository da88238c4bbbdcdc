"""The compliance rules on hand-made contacts: each rule, the contact outcome, the statistics."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from multistore.compliance import (
    NO_VALID_PHONE,
    REQUEST,
    ComplianceRules,
    EBRWindow,
    apply_rules,
    confirmed_flags,
    contact_outcomes,
    flag_changes,
    load_rules,
    phone_rows,
    results_frame,
    statistics,
)
from multistore.datafiles import ConfigError

RUN = date(2026, 11, 23)


def contact(
    cid: str,
    *numbers: str,
    state: str = "CA",
    purchase: str | None = None,
    inquiry: str | None = None,
    request: str | None = None,
    flag: bool = False,
) -> dict:
    return {
        "ContactId": cid,
        "ContactInformation": {
            "FirstName": "A",
            "LastName": "B",
            "Phones": [{"Number": n, "PhoneType": "Cell"} for n in numbers],
            "DoNotCall": flag,
        },
        "State": state,
        "LastPurchaseDate": purchase,
        "LastInquiryDate": inquiry,
        "DoNotCallRequestDate": request,
    }


def verdicts(**codes: str) -> dict[str, tuple[str, str]]:
    return {number[1:]: (code, f"reason {code}") for number, code in codes.items()}


def run(contacts: list[dict], scrub: dict, rules: ComplianceRules | None = None):
    rows = phone_rows(contacts)
    evaluated = apply_rules(rows, scrub, RUN, rules)
    outcomes = contact_outcomes(evaluated)
    return evaluated, outcomes.set_index("contact_id")


def test_each_rule_decides_the_contact() -> None:
    contacts = [
        contact("1-clean", "213-555-0101"),
        contact("2-dnc", "213-555-0102"),
        contact("3-dnc-recent-buyer", "213-555-0103", purchase="2025-06-01"),
        contact("4-dnc-old-buyer", "213-555-0104", purchase="2025-05-22"),
        contact("5-dnc-recent-inquiry", "213-555-0105", inquiry="2026-08-23"),
        contact("6-dnc-old-inquiry", "213-555-0106", inquiry="2026-08-22"),
        contact("7-request-beats-ebr", "213-555-0107", purchase="2026-11-01", request="2026-01-01"),
        contact("8-internal", "213-555-0108", purchase="2026-11-01"),
        contact("9-wireless", "213-555-0109"),
        contact("10-vendor-ebr", "213-555-0110"),
        contact("11-invalid-only", "911-555-0142", "n/a"),
        contact("12-no-phones"),
        contact("13-one-bad-one-good", "555-0142", "213-555-0113"),
        contact("14-one-clean-one-dnc", "213-555-0114", "213-555-0115"),
    ]
    scrub = verdicts(
        n2135550101="C",
        n2135550102="D",
        n2135550103="D",
        n2135550104="D",
        n2135550105="D",
        n2135550106="D",
        n2135550107="C",
        n2135550108="P",
        n2135550109="W",
        n2135550110="E",
        n2135550113="C",
        n2135550114="C",
        n2135550115="D",
    )
    evaluated, outcomes = run(contacts, scrub)
    reason = outcomes["reason"].to_dict()
    assert {k: (None if pd.isna(v) else v) for k, v in reason.items()} == {
        "1-clean": None,
        "2-dnc": "D",
        # 18 months after 2025-06-01 is 2026-12-01: still inside; 2025-05-22 + 18 months is past.
        "3-dnc-recent-buyer": None,
        "4-dnc-old-buyer": "D",
        # 3 months after 2026-08-23 is the run date itself: inclusive.
        "5-dnc-recent-inquiry": None,
        "6-dnc-old-inquiry": "D",
        "7-request-beats-ebr": REQUEST,
        "8-internal": "P",
        "9-wireless": None,
        "10-vendor-ebr": None,
        "11-invalid-only": NO_VALID_PHONE,
        "12-no-phones": NO_VALID_PHONE,
        "13-one-bad-one-good": None,
        "14-one-clean-one-dnc": "D",
    }
    exempt = evaluated.groupby("contact_id")["exempt"].any()
    assert exempt["3-dnc-recent-buyer"] and exempt["5-dnc-recent-inquiry"]
    assert exempt["10-vendor-ebr"] and not exempt["7-request-beats-ebr"]
    assert not exempt["9-wireless"]


def test_state_overrides_change_the_window() -> None:
    rules = ComplianceRules(by_state={"IN": EBRWindow(purchase_months=None, inquiry_months=None)})
    contacts = [
        contact("ca", "213-555-0101", state="CA", purchase="2026-10-01"),
        contact("in", "213-555-0102", state="IN", purchase="2026-10-01"),
    ]
    _, outcomes = run(contacts, verdicts(n2135550101="D", n2135550102="D"), rules)
    assert not outcomes.loc["ca", "do_not_call"]
    assert outcomes.loc["in", "do_not_call"]


def test_shared_number_is_one_unique_number_mapped_to_both() -> None:
    contacts = [contact("a", "(213) 555-0101"), contact("b", "+1 213.555.0101")]
    evaluated, outcomes = run(contacts, verdicts(n2135550101="D"))
    assert outcomes["do_not_call"].all()
    flags_after = {cid: True for cid in outcomes.index}
    assert statistics(evaluated, outcomes.reset_index(), flags_after)["unique_numbers"] == 1


def test_statistics_add_up_and_rate_reflects_flags() -> None:
    contacts = [
        contact("a", "213-555-0101", flag=True),
        contact("b", "213-555-0102"),
        contact("c", "bad"),
        contact("d", "213-555-0104", request="2026-01-01", flag=True),
        contact("e", "213-555-0105", "213-555-0106"),
    ]
    scrub = verdicts(
        n2135550101="C", n2135550102="D", n2135550104="C", n2135550105="W", n2135550106="E"
    )
    evaluated, outcomes = run(contacts, scrub)
    outcomes = outcomes.reset_index()
    changes = flag_changes(outcomes)
    assert changes == {"a": False, "b": True, "c": True}

    before = dict(zip(outcomes["contact_id"], outcomes["flag_before"], strict=True))
    stats_before = statistics(evaluated, outcomes, before)
    assert stats_before["compliance_rate"] == pytest.approx(2 / 5)
    assert stats_before["flags_changed"] == 0

    after = {**before, **changes}
    stats = statistics(evaluated, outcomes, after)
    assert stats["contacts"] == 5 and stats["phones"] == 6 and stats["invalid_phones"] == 1
    assert stats["callable"] == 2
    assert stats["blocked_by_reason"] == {"request": 1, "D": 1}
    assert stats["invalid"] == 1
    assert stats["callable"] + sum(stats["blocked_by_reason"].values()) + stats["invalid"] == 5
    assert stats["flags_changed"] == 3 and stats["flags_set"] == 2 and stats["flags_cleared"] == 1
    assert stats["compliance_rate"] == 1.0
    assert stats["wireless"] == 1 and stats["exempted"] == 1
    assert stats["codes"] == {"C": 2, "D": 1, "E": 1, "W": 1}

    results = results_frame(evaluated, after)
    assert results["contact_id"].tolist() == ["a", "b", "c", "d", "e", "e"]
    assert results.loc[results["contact_id"] == "c", "invalid_reason"].item() == "contains letters"


def test_annotated_numbers_are_scrubbed_and_unreadable_ones_counted_by_reason() -> None:
    contacts = [
        contact("a", "213-555-0101 ext. 12"),
        contact("b", "(213) 555-0102 (cell)", "911-555-0142"),
        contact("c", "555-0142", "1-800-FLOWERS"),
    ]
    evaluated, outcomes = run(contacts, verdicts(n2135550101="D", n2135550102="C"))
    assert outcomes.loc["a", "reason"] == "D"  # the annotated number was scrubbed and blocks
    assert not outcomes.loc["b", "do_not_call"]
    assert outcomes.loc["c", "reason"] == NO_VALID_PHONE
    flags = dict.fromkeys(outcomes.index, False)
    stats = statistics(evaluated, outcomes.reset_index(), flags)
    assert stats["annotated_phones"] == 2 and stats["invalid_phones"] == 3
    assert stats["invalid_by_reason"] == {
        "contains letters": 1,
        "too short": 1,
        "area code N11": 1,
    }
    results = results_frame(evaluated, flags).set_index("phone_raw")
    assert results.loc["213-555-0101 ext. 12", "annotation"] == "ext. 12"
    assert results.loc["(213) 555-0102 (cell)", "annotation"] == "(cell)"


def test_confirmed_flags_are_what_the_crm_read_back_holds() -> None:
    before = {"a": False, "b": False, "c": True}
    read_back = [
        {"ContactId": "a", "ContactInformation": {"DoNotCall": True}},
        {"ContactId": "c", "ContactInformation": {"DoNotCall": False}},
    ]  # "b" is gone from the CRM: it keeps its flag from before
    assert confirmed_flags(before, read_back) == {"a": True, "b": False, "c": False}


def test_vendor_invalid_counts_as_invalid_phone() -> None:
    evaluated, outcomes = run([contact("a", "213-555-0101")], verdicts(n2135550101="I"))
    assert not evaluated["valid"].any()
    assert evaluated["invalid_reason"].item() == "scrub: reason I"
    assert outcomes.loc["a", "reason"] == NO_VALID_PHONE


def test_unknown_codes_block() -> None:
    _, outcomes = run([contact("a", "213-555-0101")], verdicts(n2135550101="L"))
    assert outcomes.loc["a", "reason"] == "L"


def test_missing_verdict_and_bad_dates_are_named() -> None:
    with pytest.raises(ValueError, match="no answer for number 2135550101"):
        run([contact("a", "213-555-0101")], {})
    with pytest.raises(ValueError, match=r"contact z: LastPurchaseDate: '23/11/2026'"):
        phone_rows([contact("z", "213-555-0101", purchase="23/11/2026")])
    with pytest.raises(ValueError, match=r"contacts\[0\]: no ContactId"):
        phone_rows([{"ContactInformation": {}}])


def test_rules_file(tmp_path: Path) -> None:
    assert load_rules().window("IN").purchase_months is None
    assert load_rules().window("ca").purchase_months == 18
    bad = tmp_path / "compliance.yaml"
    bad.write_text("ebr:\n  default: {purchase_months: -1}\n")
    with pytest.raises(ValueError, match=r"compliance.yaml: ebr.default.purchase_months"):
        load_rules(bad)
    absent = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as raised:
        load_rules(absent)
    (line,) = str(raised.value).splitlines()
    assert line.startswith(f"{absent}: no such file; create it, or name none to use ")
    assert line.endswith("compliance.yaml or the packaged default")


def test_a_run_without_contacts_writes_the_same_schema_as_any_other() -> None:
    evaluated, outcomes = run([], {})
    empty = results_frame(evaluated, {})
    assert len(empty) == 0 and len(outcomes) == 0
    assert empty["flag_before"].dtype == bool and empty["flag_after"].dtype == bool
    assert outcomes["flag_before"].dtype == bool and outcomes["do_not_call"].dtype == bool

    evaluated, _ = run([contact("a", "213-555-0101")], verdicts(n2135550101="C"))
    full = results_frame(evaluated, {"a": False})
    assert full["flag_before"].dtype == bool and full["flag_after"].dtype == bool
    assert pa.Schema.from_pandas(empty, preserve_index=False) == pa.Schema.from_pandas(
        full, preserve_index=False
    )
