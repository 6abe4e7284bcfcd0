"""Which rival explanations the evidence rules out, and which survive.

An alternative names the predictions that tell it apart from the hypothesis and the outcome that rules it
out (`ruled_out_if`, usually `holds`: the prediction is what the hypothesis expects and the alternative
does not). It is

- ruled out  when every one of its predictions has that outcome;
- surviving  when any of them has the other decided outcome (the data side with the alternative there);
- open       otherwise: some prediction is still undecided, and more seeds may settle it.
"""

from __future__ import annotations

from refute.components.predictions.outcome import CONTRADICTED, HOLDS, UNDECIDED, Outcome

RULED_OUT, SURVIVES, OPEN = "ruled out", "survives", "open"


def judge_alternative(alt, outcomes: dict[str, Outcome]) -> dict:
    """The status of one alternative from its predictions' outcomes, with the outcomes that decided it."""
    by = {pid: outcomes[pid].status for pid in alt.predictions}
    other = CONTRADICTED if alt.ruled_out_if == HOLDS else HOLDS
    if all(s == alt.ruled_out_if for s in by.values()):
        status = RULED_OUT
        why = f"every distinguishing prediction {alt.ruled_out_if}"
    elif any(s == other for s in by.values()):
        status = SURVIVES
        hit = [p for p, s in by.items() if s == other]
        why = f"{', '.join(hit)} {other}, as the alternative expects"
    else:
        status = OPEN
        why = f"{', '.join(p for p, s in by.items() if s == UNDECIDED)} still undecided"
    return {"id": alt.id, "explanation": alt.explanation, "conditions": list(alt.conditions),
            "predictions": by, "ruled_out_if": alt.ruled_out_if, "status": status, "why": why}


def judge_alternatives(alternatives, outcomes: dict[str, Outcome], valid: bool = True) -> list[dict]:
    """Every alternative's status; with invalid runs (`valid=False`) nothing can be ruled out, so all stay open."""
    out = [judge_alternative(a, outcomes) for a in alternatives]
    if not valid:
        for a in out:
            a["status"], a["why"] = OPEN, "the runs are invalid (a run failed or diverged)"
    return out
