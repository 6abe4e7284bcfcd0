"""equivalence: "X ≈ value" or "no difference between a and b", within a declared margin (TOST).

Two one-sided tests (statsmodels): H0 effect ≤ −margin and H0 effect ≥ +margin. The p-value is the
larger of the two; the prediction holds when both reject (p < α; equivalently the (1 − 2α) CI lies
inside ±margin) and is contradicted when the 95% CI lies wholly outside ±margin.

- With `value`: the effect is mean − value, tested in every listed condition; the claim is that
  *each* condition is equivalent to the value (an intersection–union test: its p is the largest of
  the conditions' p, with no correction needed). The headline estimate is the least favourable
  condition's.
- Without `value`: exactly two conditions and the effect is mean(a) − mean(b): Welch TOST
  (`test: t`) or TOST on the per-seed differences (`test: paired_t`).
- Without `value`, `relative: true`: a is within ±margin of b *as a fraction of b*, i.e.
  1 − margin < mean(a)/mean(b) < 1 + margin; the effect is mean(a)/mean(b) − 1, tested by two
  one-sided t-tests that are linear in the means (refute.components.predictions._ratio_of_means).
- `scale: ratio`: a ≈ b within a factor, 1/(1 + margin) < a/b < 1 + margin, tested on ln values
  (TOST on the log scale, ±ln(1 + margin)) and reported back-transformed as a ratio.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from refute.components.predictions import PREDICTIONS
from refute.components.predictions import exact, power
from refute.components.predictions import Interval, Phrase, TestResult, paired, undefined, values
from refute.components.predictions import _ratio, _ratio_of_means
from refute.components.predictions.outcome import Outcome


class Equivalence(Interval):
    kind: Literal["equivalence"] = Field(description="the effect lies within ±margin (TOST)")
    conditions: list[str] = Field(
        min_length=1,
        description="with `value`: every condition tested against it; without: exactly [a, b], effect a − b",
    )
    value: float | None = Field(None, description="the value each condition's mean is claimed to equal; "
                                                  "omit to claim a ≈ b")
    margin: float = Field(gt=0, description="the equivalence margin: effects within ±margin count as equal")
    relative: bool = Field(False, description="margin is a fraction of |value| (e.g. 0.15 for ±15%); without "
                                              "value, a fraction of b's mean: 1 − margin < a/b < 1 + margin")
    test: Literal["t", "paired_t"] = Field("t", description="t (one-sample or Welch TOST) | paired_t (a ≈ b, "
                                                            "TOST on per-seed differences)")
    scale: Literal["difference", "ratio"] = Field(
        "difference", description="ratio: a ≈ b within a factor 1 + margin, tested on ln values and reported "
        "as a ratio (every value must be positive)",
    )

    @model_validator(mode="after")
    def _shape(self):
        if self.value is None and len(self.conditions) != 2:
            raise ValueError("without `value`, list exactly two conditions [a, b] (the claim is a ≈ b)")
        if self.relative and self.value is not None and not self.value:
            raise ValueError("`relative: true` needs a non-zero `value` (the margin is a fraction of it)")
        if self.scale == "ratio" and (self.value is not None or self.relative):
            raise ValueError("`scale: ratio` compares two conditions [a, b] within a factor; drop `value` and "
                             "`relative`")
        if self.relative and self.value is None and not self.margin < 1:
            raise ValueError("a relative margin between two conditions is a fraction of b: give 0 < margin < 1")
        if self.test == "paired_t" and self.value is not None:
            raise ValueError("`test: paired_t` compares two conditions; drop `value` or use `test: t`")
        return self

    def conditions_used(self, available=None) -> list[str]:
        return list(self.conditions)

    def claim(self) -> list[Phrase]:
        if self.scale == "ratio":
            return [Phrase(f"predicted a / b within a factor of {1 + self.margin:g}")]
        if self.relative and self.value is None:
            return [Phrase(f"predicted a within ±{self.margin:g} × b (a / b − 1 within ±{self.margin:g})")]
        rel = " × |value|" if self.relative else ""
        of = f" of {self.value:g}" if self.value is not None else ""
        return [Phrase(f"predicted within ±{self.margin:g}{rel}{of}")]

    def half_width(self) -> float:
        """The margin in the units the test runs on (ln units for a ratio)."""
        if self.scale == "ratio":
            return float(np.log1p(self.margin))
        return self.margin * abs(self.value) if self.relative and self.value is not None else self.margin

    def outcome(self, result: TestResult, p: float, ci: tuple[float, float], level: float = 0.95) -> Outcome:
        if self.scale == "ratio":
            return _ratio.judge_ratio_interval(self.margin, self.alpha, p, result.estimate, ci, result.n_min(), level)
        return super().outcome(result, p, ci, level)

    def bounds(self) -> tuple[float, float]:
        m = self.half_width()
        return (-m, m)

    def smallest_effect(self) -> float:
        return self.half_width()

    def power(self, result: TestResult, data: pd.DataFrame, alpha: float) -> dict | None:
        m, sd = self.half_width(), result.extra.get("sd", float("nan"))
        two_groups = self.value is None and self.test == "t"
        if "exact_p_floor" in result.extra:
            # Runs with no spread: more of them help only if their common value lies inside the margin.
            if not -m < result.estimate < m:
                return None
            floor = (lambda k: exact.permutation_floor(k, k)) if two_groups else exact.sign_floor
            return power.exact_plan(m, result.n_min(), alpha, floor, False, "one-sided",
                                    "seeds (pairs)" if self.test == "paired_t" else "seeds per condition")
        tests = len(self.conditions) if self.value is not None else 1
        return power.plan(
            m, "the margin, for a true effect of 0", result.n_min(), alpha,
            f"TOST normal-theory power{' (every one of %d conditions)' % tests if tests > 1 else ''}, "
            f"sd {sd:.4g} from the runs",
            lambda k: power.tost_power(m, lambda j: sd * np.sqrt((2 if two_groups else 1) / j),
                                       lambda j: (2 * j - 2) if two_groups else j - 1, k, alpha, tests),
            unit="seeds (pairs)" if self.test == "paired_t" else "seeds per condition")


@PREDICTIONS.register("equivalence", Equivalence)
def evaluate(pred: Equivalence, data: pd.DataFrame, level: float = 0.95) -> TestResult:
    """the effect lies within ±margin (two one-sided tests)"""
    from scipy import stats
    from statsmodels.stats import weightstats

    m = pred.half_width()
    if pred.value is None and pred.scale == "ratio":
        a_name, b_name = pred.conditions
        logged = _ratio.log_values(data)
        if isinstance(logged, str):
            return _ratio.cannot(f"TOST, {pred.test}", a_name, b_name, data, logged)
        inner = pred.model_copy(update={"scale": "difference", "margin": m})
        res = _ratio.on_log_scale(evaluate(inner, logged, level), a_name, b_name)
        res.extra["margin"] = pred.margin
        return res
    if pred.value is None and pred.relative:
        return _ratio_of_means.tost(data, *pred.conditions, pred.margin, pred.test == "paired_t", pred.alpha, level)
    if pred.value is None:
        a_name, b_name = pred.conditions
        label = f"{a_name} − {b_name}"
        if pred.test == "paired_t":
            a, b, seeds = paired(data, a_name, b_name)
            return _one_sample(a - b, m, level, pred.alpha, f"mean per-seed difference ({label})",
                               {"pairs": len(seeds)}, "TOST, paired t")
        a, b = values(data, a_name), values(data, b_name)
        n = {a_name: len(a), b_name: len(b)}
        if min(n.values()) < 2:
            return undefined("TOST, Welch t", label, n, "fewer than 2 runs in a group")
        est = float(np.mean(a) - np.mean(b))
        if exact.constant(a) and exact.constant(b):
            return exact.equivalent(est, m, exact.permutation_floor(len(a), len(b)), level,
                                    f"difference of means ({label})", n, "TOST, Welch t")
        p, lower, upper = weightstats.ttost_ind(a, b, -m, m, usevar="unequal")
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
        ci90 = stats.ttest_ind(a, b, equal_var=False).confidence_interval(1 - 2 * pred.alpha)
        return _result("TOST, Welch t", p, lower, upper, est, ci, ci90, f"difference of means ({label})", n, m, level,
                       power.pooled_sd(a, b))

    per = {}
    for c in pred.conditions:
        x = values(data, c) - pred.value
        per[c] = _one_sample(x, m, level, pred.alpha, f"mean − {pred.value:g} in {c}", {c: len(x)},
                             "TOST, one-sample t")
    if len(per) == 1:
        return next(iter(per.values()))
    worst = _least_favourable(per, m)
    res = per[worst]
    res.test = f"TOST, one-sample t, every condition (intersection–union over {len(per)})"
    res.p = max(r.p for r in per.values()) if all(np.isfinite(r.p) for r in per.values()) else float("nan")
    res.effect = f"mean − {pred.value:g} in {worst}, the least favourable of {len(per)} conditions"
    res.n = {c: r.n[c] for c, r in per.items()}
    for c, r in per.items():
        res.extra[f"mean − value [{c}]"] = r.estimate
        res.extra[f"p [{c}]"] = r.p
    return res


def _least_favourable(per: dict[str, TestResult], m: float) -> str:
    # A condition credibly outside the margin decides the claim; otherwise the one with the largest p.
    outside = [c for c, r in per.items() if r.ci[0] > m or r.ci[1] < -m]
    if outside:
        return max(outside, key=lambda c: abs(per[c].estimate))
    return max(per, key=lambda c: per[c].p if np.isfinite(per[c].p) else np.inf)


def _one_sample(x: np.ndarray, m: float, level: float, alpha: float, effect: str, n: dict[str, int], test: str) -> TestResult:
    from scipy import stats
    from statsmodels.stats import weightstats

    if len(x) < 2:
        return undefined(test, effect, n, "fewer than 2 runs")
    est = float(np.mean(x))
    if exact.constant(x):
        return exact.equivalent(est, m, exact.sign_floor(len(x)), level, effect, n, test)
    p, lower, upper = weightstats.DescrStatsW(x).ttost_mean(-m, m)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(level)
    # The (1 − 2α) interval is the one whose inclusion in ±margin the TOST checks.
    ci90 = stats.ttest_1samp(x, 0.0).confidence_interval(1 - 2 * alpha)
    return _result(test, p, lower, upper, est, ci, ci90, effect, n, m, level, float(np.std(x, ddof=1)))


def _result(test, p, lower, upper, est, ci, ci90, effect, n, m, level, sd) -> TestResult:
    (t_lo, p_lo, _), (t_hi, p_hi, _) = lower, upper
    binding = t_lo if p_lo >= p_hi else t_hi
    return TestResult(test, float(binding), float(p), est, (float(ci.low), float(ci.high)), effect, n,
                      {"margin": m, "p_lower": float(p_lo), "p_upper": float(p_hi),
                       "ci_tost_low": float(ci90.low), "ci_tost_high": float(ci90.high), "sd": sd},
                      ci_level=level)
