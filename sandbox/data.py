"""Deterministic, lazy data: everything served is a function of (seed, store id, index).

Nothing is stored: contact 73 of store-0042 is generated when asked for, identically every time,
so 1,000 stores × 100,000 contacts cost only what is served. State that changes (flags set in the
CRM's UI, short links) lives in `sandbox.state`.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from typing import Any

CONTACT_ID_BASE = 10_000_000

FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Maria",
    "Wei",
    "Mei",
    "Ahmed",
    "Fatima",
    "Juan",
    "Ana",
    "Luis",
    "Sofia",
    "Andre",
    "Keisha",
    "Tyrone",
    "Emily",
    "Daniel",
    "Olivia",
    "Noah",
    "Ava",
    "Ethan",
    "Mia",
    "Hiroshi",
    "Yuki",
    "Priya",
    "Raj",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
    "Patel",
    "Kim",
]
# The states with their own do-not-call lists come up often, as in a real dealer's book.
DNC_STATES = ("CO", "FL", "IN", "LA", "MA", "MO", "OK", "PA", "TN", "TX", "WY")
OTHER_STATES = ("CA", "NY", "AZ", "GA", "IL", "NC", "NV", "OH", "WA", "OR", "NJ", "VA", "MI")
AREA_CODES = [
    "213",
    "310",
    "415",
    "512",
    "214",
    "305",
    "617",
    "303",
    "404",
    "602",
    "702",
    "206",
    "312",
    "713",
    "919",
    "615",
    "504",
    "405",
    "307",
    "317",
    "215",
    "813",
    "720",
    "469",
    "832",
    "786",
    "407",
    "954",
    "972",
    "281",
    "737",
    "347",
    "646",
    "917",
    "718",
    "480",
    "623",
    "520",
    "971",
    "503",
    "559",
    "626",
    "657",
    "949",
]
PHONE_TYPES = ("Cell", "Home", "Work")
INVALID_PHONES = ("555-0142", "(123) 555-0199", "911", "(213) 911-0142", "000-000-0000", "n/a")


def rng(seed: int, store: str, kind: str, index: int | str) -> random.Random:
    """A generator fixed by its arguments (str seeding hashes with SHA-512: stable across runs)."""
    return random.Random(f"{seed}|{store}|{kind}|{index}")


def ascii_digits(text: str) -> bool:
    """Only 0-9 (str.isdigit alone also accepts "²" and other digits int() refuses)."""
    return text.isascii() and text.isdigit()


def stable_int(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


# --- phone numbers -------------------------------------------------------------------------


def _valid_digits(r: random.Random) -> str:
    """Ten digits of a valid NANP number: NPA and NXX start 2–9 and are never N11."""
    npa = r.choice(AREA_CODES)
    if r.random() < 0.25:
        # 555-0100..0199: reserved for fiction.
        return f"{npa}55501{r.randint(0, 99):02d}"
    while True:
        nxx = f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}"
        if nxx[1:] != "11" and nxx != "555":
            break
    return f"{npa}{nxx}{r.randint(0, 9999):04d}"


def format_phone(digits: str, style: int) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return (
        f"({a}) {b}-{c}",
        f"{a}.{b}.{c}",
        f"+1 {a} {b} {c}",
        digits,
        f"{a}-{b}-{c}",
        f"1-{a}-{b}-{c}",
    )[style % 6]


def phone_digits(seed: int, store: str, index: int) -> str:
    """The first (primary) valid number of contact `index`."""
    return _valid_digits(rng(seed, store, "phone", index))


# --- CRM contacts --------------------------------------------------------------------------


def contact_id(index: int) -> str:
    return str(CONTACT_ID_BASE + index)


def contact_index(contact_id_: str, total: int) -> int | None:
    """The index behind a ContactId, or None when it names no contact of a store of `total`."""
    if not ascii_digits(contact_id_):
        return None
    index = int(contact_id_) - CONTACT_ID_BASE
    return index if 0 <= index < total else None


def contact(seed: int, store: str, index: int, today: date) -> dict[str, Any]:
    """Contact `index` of `store`, VinSolutions-shaped, with the CRM's original DoNotCall flag."""
    r = rng(seed, store, "contact", index)
    first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
    phones = []
    count = r.choices((0, 1, 2, 3), weights=(3, 55, 30, 12))[0]
    for slot in range(count):
        kind = PHONE_TYPES[0] if slot == 0 and r.random() < 0.7 else r.choice(PHONE_TYPES)
        if slot == 0 and index > 0 and index % 19 == 7:
            # A household: the same number as the previous contact, written differently.
            number = format_phone(phone_digits(seed, store, index - 1), r.randint(0, 5))
        elif r.random() < 0.06:
            number = r.choice(INVALID_PHONES)
        else:
            digits = phone_digits(seed, store, index) if slot == 0 else _valid_digits(r)
            number = format_phone(digits, r.randint(0, 5))
        phones.append({"Number": number, "PhoneType": kind})
    emails = [f"{first}.{last}{r.randint(1, 99)}@example.com".lower()] if r.random() < 0.8 else []
    purchase = _date_within(r, today, 0.45)
    inquiry = _date_within(r, today, 0.55)
    request = _date_within(r, today, 0.06)
    # The CRM's flag is set by hand and often wrong: the pipeline has work to do.
    do_not_call = r.random() < (0.7 if request else 0.08)
    state = r.choice(DNC_STATES) if r.random() < 0.4 else r.choice(OTHER_STATES)
    return {
        "ContactId": contact_id(index),
        "ContactInformation": {
            "FirstName": first,
            "LastName": last,
            "Phones": phones,
            "Emails": [{"EmailAddress": e, "EmailType": "Personal"} for e in emails],
            "DoNotCall": do_not_call,
            "DoNotEmail": r.random() < 0.1,
            "DoNotMail": r.random() < 0.05,
        },
        "State": state,
        "LastPurchaseDate": purchase,
        "LastInquiryDate": inquiry,
        "DoNotCallRequestDate": request,
    }


def _date_within(r: random.Random, today: date, share: float, days: int = 3 * 365) -> str | None:
    if r.random() >= share:
        return None
    return (today - timedelta(days=r.randint(0, days))).isoformat()


# --- DNC scrub -----------------------------------------------------------------------------


def is_nanp(digits: str) -> bool:
    npa, nxx = digits[:3], digits[3:6]
    return (
        len(digits) == 10
        and ascii_digits(digits)
        and npa[0] in "23456789"
        and nxx[0] in "23456789"
        and npa[1:] != "11"
        and nxx[1:] != "11"
    )


def scrub_result(seed: int, number: str) -> dict[str, str]:
    """The scrub service's verdict on ten digits: fixed per (seed, number)."""
    if not is_nanp(number):
        return {"number": number, "code": "I", "reason": "Invalid number"}
    h = stable_int(seed, "dnc", number)
    bucket = h % 100
    if bucket < 70:
        return {"number": number, "code": "C", "reason": "Clean"}
    if bucket < 80:
        year, month, day = 2003 + (h >> 8) % 20, 1 + (h >> 16) % 12, 1 + (h >> 24) % 28
        return {
            "number": number,
            "code": "D",
            "reason": f"National (USA) {year}-{month:02d}-{day:02d}",
        }
    if bucket < 84:
        state = DNC_STATES[(h >> 8) % len(DNC_STATES)]
        year, month, day = 2010 + (h >> 16) % 15, 1 + (h >> 24) % 12, 1 + (h >> 32) % 28
        return {
            "number": number,
            "code": "D",
            "reason": f"State ({state}) {year}-{month:02d}-{day:02d}",
        }
    if bucket < 88:
        return {"number": number, "code": "P", "reason": "Internal DNC"}
    if bucket < 96:
        return {"number": number, "code": "W", "reason": "Wireless"}
    return {"number": number, "code": "E", "reason": "Valid EBR"}
