"""DNC compliance for one dealership: the CRM's do-not-call flags made to match the rules.

1. fetch the contacts from the CRM's API (task `crm-contacts`, pool `api:crm`);
2. normalise every phone to E.164 (NANP rule, invalid ones flagged with the reason) and fold
   duplicates: each number is scrubbed once whoever shares it;
3. scrub the unique numbers in batches (task `dnc-scrub`, pools `api:dnc` and `rate:api:dnc`);
4. apply the rules (multistore.compliance: DNC hits, internal list, customer requests, EBR
   exemptions by state from compliance.yaml) to get each contact's DoNotCall flag;
5. change the flags that differ through the CRM's web UI (task `crm-ui-flags`, pool `browser`),
   then read the contacts back from the API: the statistics count what the CRM holds, not what
   was sent (a lost save leaves its contact wrong and lowers the compliance rate);
6. write the results to data/compliance/store_id=…/date=…/results.parquet, only now, in one
   rename: a run that failed earlier leaves nothing half-written;
7. return the compliance statistics.

`run_dnc_compliance(ctx)` is the `dnc_compliance` job of the store pipeline; the `dnc-compliance`
flow runs it alone: `python -m flows.dnc_compliance STORE`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prefect import flow

from multistore import compliance
from multistore.phones import unique_numbers
from multistore.registry import Registry
from multistore.settings import get_settings
from tasks.crm import fetch_contacts, update_flags
from tasks.dnc import scrub_numbers

if TYPE_CHECKING:  # flows.jobs imports this module to register the job
    from flows.jobs import JobContext

DATASET = "compliance"


def run_dnc_compliance(ctx: JobContext) -> dict[str, Any]:
    """The steps above for `ctx.store`; the compliance statistics (with `output`, the Parquet)."""
    store, clients = ctx.store, ctx.clients

    contacts = ctx.run(fetch_contacts, clients.crm())
    ctx.log.info("store %s: %d contacts from the CRM", store.id, len(contacts))
    rows = compliance.phone_rows(contacts)
    numbers = unique_numbers(rows)
    answers = ctx.run(scrub_numbers, clients.dnc(), numbers) if numbers else {}
    verdicts = {number: (code, reason) for number, (code, reason) in answers.items()}

    evaluated = compliance.apply_rules(rows, verdicts, ctx.run_date, compliance.load_rules())
    outcomes = compliance.contact_outcomes(evaluated)
    changes = compliance.flag_changes(outcomes)
    browser = ctx.run(update_flags, clients.crm_ui(), changes)

    before = dict(zip(outcomes["contact_id"], outcomes["flag_before"].astype(bool), strict=True))
    # Measured, not assumed: the flags as the CRM holds them now (no changes, nothing to read).
    read_back = ctx.run(fetch_contacts, clients.crm()) if changes else []
    flags_after = compliance.confirmed_flags(before, read_back) if changes else before
    frame = compliance.results_frame(evaluated, flags_after)
    path = ctx.outputs.write(frame, DATASET, "results.parquet")

    stats = compliance.statistics(evaluated, outcomes, flags_after)
    stats["flags_intended"] = len(changes)
    stats["flags_unconfirmed"] = sum(flags_after[cid] != flag for cid, flag in changes.items())
    stats["browser"] = browser
    stats["output"] = str(path)
    ctx.log.info(
        "store %s: %d contacts, %d callable, %d flags changed, compliance %.3f",
        store.id,
        stats["contacts"],
        stats["callable"],
        stats["flags_changed"],
        stats["compliance_rate"],
    )
    return stats


@flow(name="dnc-compliance")
def dnc_compliance(store_id: str) -> dict[str, Any]:
    """DNC compliance for one store on its own (outside the store pipeline's job graph)."""
    from flows.jobs import JobContext

    store = Registry().get(store_id)
    ctx = JobContext(
        store=store, run_date=datetime.now(UTC).date(), data_dir=get_settings().data_dir
    )
    return run_dnc_compliance(ctx)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m flows.dnc_compliance STORE", file=sys.stderr)
        return 2
    try:
        Registry().get(argv[0])  # an unknown store is one line, before any flow run exists
        stats = dnc_compliance(argv[0])
    except Exception as exc:
        print(f"dnc-compliance {argv[0]}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(stats, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
