"""What runs censored at the step budget do to a prediction's outcome.

A "steps to reach X" value of a run that never reached X is the budget: a bound on the true step, not a
measurement of it. An outcome is *decided by censored runs* when the same test on the uncensored runs
alone (p corrected with the other predictions' p as they are, CI at the same level) reaches another
outcome: the claim then rests on runs whose values are bounds. The outcome's reason says so, and so
does the verdict line that quotes it. A prediction's `max_censored` caps the censored share of its tested
runs; beyond it the prediction is undecided, whatever the test says.
"""

from __future__ import annotations

from refute.components.predictions.outcome import UNDECIDED, Outcome

BOUND = "their value is the budget, a bound on when they would have reached it"


def judge_censored(outcome: Outcome, censored: int, used: int, max_censored: float | None,
                   without: Outcome | None) -> Outcome:
    """`outcome` with what its censored runs mean for it; `without`: the outcome on the uncensored runs
    alone (None when there are no censored runs)."""
    if not censored or not used:
        return outcome
    share = f"{censored} of {used} runs"
    if max_censored is not None and censored / used > max_censored:
        return Outcome(UNDECIDED, f"{share} ({censored / used:.0%}) censored at the step budget, more than "
                                  f"max_censored = {max_censored:g} accepts ({BOUND}); the test alone: "
                                  f"{outcome.status}, {outcome.reason}",
                       "fewer censored runs: a longer step budget (train.steps), or a threshold every run reaches")
    if outcome.status == UNDECIDED:
        return Outcome(outcome.status, f"{outcome.reason}; {share} censored at the step budget", outcome.would_change)
    if without is not None and without.status != outcome.status:
        return Outcome(outcome.status, f"{outcome.reason}; {share} censored at the step budget ({BOUND}), and "
                                       f"without them the prediction would be {without.status}: the censored "
                                       "runs decide this outcome", outcome.would_change)
    return Outcome(outcome.status, f"{outcome.reason}; {share} censored at the step budget (the outcome is the "
                                   "same without them)", outcome.would_change)
