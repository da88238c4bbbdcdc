"""What the do-not-call codes and reasons in a compliance report mean, for the report's legend.

The codes are the scrub vendor's (DNC.com style, shared/DOMAIN_NOTES.md); the reasons are the ones
multistore.compliance gives a blocked contact. Kept apart from compliance.py so a report can say
what they mean without loading the compliance engine (pandas).
"""

from __future__ import annotations

MEANINGS = {
    "request": "the customer asked not to be called (overrides any exemption)",
    "P": "on the company's internal do-not-call list",
    "D": "on a federal or state do-not-call list, with no business relationship to exempt it",
    "B": "area code not subscribed at the scrub vendor",
    "L": "wireless number in a state that prohibits calling wireless numbers",
    "I": "invalid number (vendor)",
    "M": "malformed number (vendor)",
    "E": "valid established business relationship (callable, exempt)",
    "C": "clean (callable)",
    "W": "wireless (callable)",
    "Y": "VoIP (callable)",
    "O": "EBR override (callable)",
    "no valid phone": "the contact has no number that can be called",
}


def legend(codes: list[str]) -> list[tuple[str, str]]:
    """(code, meaning) for each code, in the order given; an unknown code says so."""
    return [(code, MEANINGS.get(code, "code not known to multistore")) for code in codes]
