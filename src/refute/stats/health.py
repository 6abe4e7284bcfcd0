"""Estimator health at the statistics stage: a prediction is not decided on values their estimator disowns.

A costly estimator logs a certificate beside each value (refute.components.certificates). A run's reduced
value depends on some of its evaluations (refute.components.reductions.steps_read: `final` reads the last,
`mean_last` the last k, …); the value fails its certificate when any of those evaluations did. A prediction
whose tested values include one that failed is undecided, whatever its test says, and its outcome names
the runs, the steps and the diagnostics (e.g. `sharpness.residual = 0.12`). Values with no certificate
(most metrics) are taken as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from refute.components.certificates import certificate_of, diagnostics
from refute.components.predictions.outcome import UNDECIDED, Outcome

WOULD_CHANGE = ("values that pass their certificates: more Krylov steps (sharpness `iters`), a probe that "
                "converges (linear_probe `max_iter`, or a smaller `C`), or more examples (cka `max_examples`)")


class Certificates:
    """The certificates one condition's runs logged for one metric, with their diagnostics."""

    def __init__(self, table: pd.DataFrame, condition: str, metric: str):
        self.metric, self.name = metric, certificate_of(metric)
        sub = table[(table.condition == condition) & table.metric.isin([self.name, *diagnostics(metric)])]
        self.by_seed = dict(tuple(sub[sub.metric == self.name].groupby("seed", sort=True)))
        self.diagnostics = sub[sub.metric != self.name]

    def failure(self, seed: int, steps: np.ndarray) -> str | None:
        """Why seed `seed`'s value, read from `steps`, fails its certificate; None when it does not (or has none)."""
        g = self.by_seed.get(seed)
        if g is None:
            return None
        bad = g[g.step.isin(steps) & (g.value == 0)]
        if not len(bad):
            return None
        step = int(bad.step.min())
        d = self.diagnostics[(self.diagnostics.seed == seed) & (self.diagnostics.step == step)]
        said = ", ".join(f"{m} = {v:.3g}" for m, v in zip(d.metric, d.value))
        more = f" and {len(bad) - 1} later evaluation(s)" if len(bad) > 1 else ""
        return f"{self.metric}, seed {seed} at step {step}{more}" + (f" ({said})" if said else "")


def uncertified(rows: pd.DataFrame) -> pd.DataFrame:
    """The reduced rows a test would see (not failed runs, finite values) that failed their certificate."""
    if "health" not in rows:
        return pd.DataFrame(columns=["condition", "seed", "health"])
    return rows.loc[~rows.failed & np.isfinite(rows.value.astype(float)) & (rows.health != ""),
                    ["condition", "seed", "health"]]


def failure_texts(bad: pd.DataFrame) -> list[str]:
    return [f"condition {c}: {h}" for c, h in zip(bad.condition, bad.health)]


def judge_health(outcome: Outcome, failures: list[str], used: int) -> Outcome:
    """`outcome`, or undecided when any tested value failed its estimator's health certificate."""
    if not failures:
        return outcome
    shown = "; ".join(failures[:3]) + (f"; and {len(failures) - 3} more" if len(failures) > 3 else "")
    which = f"{len(failures)} of {used} tested values failed their estimator's health certificate ({shown})"
    if outcome.status == UNDECIDED:
        return Outcome(UNDECIDED, f"{outcome.reason}; {which}", outcome.would_change)
    return Outcome(UNDECIDED, f"{which}: not decided on numbers their estimator does not vouch for; the test "
                              f"alone: {outcome.status}, {outcome.reason}", WOULD_CHANGE)
