"""Vehicle identification numbers: 17 characters, no I, O or Q, a check digit in position 9.

The check digit (ISO 3779 / 49 CFR 565): letters transliterate to digits, each position has a
weight, the weighted sum mod 11 is the digit ("X" for 10).
"""

from __future__ import annotations

import re

_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_SHAPE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")


def check_digit(vin: str) -> str:
    """The check digit a 17-character VIN (of valid characters) should carry in position 9."""
    total = sum(_TRANSLITERATION[c] * w for c, w in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_problem(vin: object) -> str | None:
    """Why `vin` is not a valid VIN (one short phrase), or None when it is."""
    if not isinstance(vin, str) or not vin.strip():
        return "VIN is missing"
    vin = vin.strip().upper()
    if len(vin) != 17:
        return f"VIN {vin!r} has {len(vin)} characters, not 17"
    if not _SHAPE.match(vin):
        bad = sorted({c for c in vin if c not in _TRANSLITERATION})
        return f"VIN {vin!r} contains {', '.join(bad)} (I, O, Q and symbols are not allowed)"
    expected = check_digit(vin)
    if vin[8] != expected:
        return f"VIN {vin!r} has check digit {vin[8]}, expected {expected}"
    return None


def is_valid_vin(vin: object) -> bool:
    return vin_problem(vin) is None
