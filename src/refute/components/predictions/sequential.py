"""Anytime-valid tests for predictions decided in rounds of seeds (a hypothesis's `sequential:` mode).

A fixed-n test is valid once: looking after every round and stopping when p < α makes false claims far
more common than α. These tests give an *e-value* E_n instead, a number whose expected value is at most 1
under the null at every n, and whose path over n is a test martingale; by Ville's inequality the chance
that it *ever* reaches 1/α under the null is at most α, so a prediction may be checked after every round
and decided the first time its e-value crosses.

The e-value is the Gaussian-mixture sequential t-test (Pérez-Ortiz, Lardy, de Heide & Grünwald 2024,
"E-statistics, group invariance and anytime-valid testing"; the same statistic as Lai's 1976 t confidence
sequence): a N(0, g) prior on the standardized effect δ = (μ − μ0)/σ and the right-Haar prior 1/σ on the
scale. By group invariance it is the likelihood ratio of the maximal invariant (the t statistic's
sequence), so it is valid whatever σ is. It has a closed form in the t statistic (Rouder et al. 2009):

    E(t) = (1 + N·g)^(−1/2) · [(1 + t²/ν) / (1 + t²/(ν(1 + N·g)))]^((ν + 1)/2)

with N = n, ν = n − 1 for one sample (threshold; paired differences) and N = n_a·n_b/(n_a + n_b),
ν = n_a + n_b − 2 for two groups (a pooled-variance t; equal spread across conditions is assumed).

E grows with |t|, so {μ0 : E(t(μ0)) < 1/α} is an interval around the estimate: a confidence sequence,
covering the true effect at every n at once with probability ≥ 1 − α. A prediction's claim and its
negation are sets of effects; the e-value against a set is the smallest E over it:

- holds:         E against "no effect, or the wrong direction" ≥ 1/α, and the estimate is at least δ;
- contradicted:  E against "an effect of δ or more in the predicted direction" ≥ 1/α;

(for two-sided predictions: against "effect = 0", and against "|effect| ≥ δ" when δ > 0). Either
crossing means the confidence sequence has left the set, which happens with probability ≤ α while the
true effect lies in it: the error of each decision is at most α under optional stopping.

E is bounded by (1 + N·g)^(ν/2) (reached as the spread vanishes), so a few seeds can never decide:
with g = 1, 4 seeds reach at most 11.2 < 20 = 1/0.05, 5 seeds reach 36.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from refute.components.predictions import paired, values

# The prior variance of the standardized effect: g = 1 spreads the alternative over effects of about
# one standard deviation of the runs, the size a handful of seeds can hope to detect.
G = 1.0
# The prediction kinds (and, for each, the tests) the sequential mode supports.
SUPPORTED = {"threshold": ("t",), "compare": ("welch", "paired_t")}
TEST_NAME = "sequential Gaussian-mixture t-test (anytime-valid e-value)"


def log_e(t: float, nu: int, n_eff: float, g: float = G) -> float:
    """ln E of the Gaussian-mixture t-test at t statistic `t` (|t| = inf: the bound, as the spread vanishes)."""
    if nu < 1:
        return 0.0
    a = 1 + n_eff * g
    if math.isinf(t):
        return 0.5 * nu * math.log(a)
    t2 = t * t
    return -0.5 * math.log(a) + 0.5 * (nu + 1) * (math.log1p(t2 / nu) - math.log1p(t2 / (nu * a)))


def max_log_e(nu: int, n_eff: float, g: float = G) -> float:
    """The largest ln E these runs can give, however clear the data: (ν/2)·ln(1 + N·g)."""
    return 0.5 * nu * math.log1p(n_eff * g) if nu >= 1 else 0.0


@functools.lru_cache(maxsize=4096)
def t_crossing(nu: int, n_eff: float, threshold: float, g: float = G) -> float:
    """The |t| at which E reaches `threshold` (inf when these runs cannot reach it)."""
    from scipy.optimize import brentq

    target = math.log(threshold)
    if nu < 1 or max_log_e(nu, n_eff, g) <= target:
        return math.inf
    hi = 1.0
    while log_e(hi, nu, n_eff, g) < target:
        hi *= 2
    return float(brentq(lambda t: log_e(t, nu, n_eff, g) - target, 0.0, hi, xtol=1e-12))


def fewest_deciding(alpha: float, g: float = G) -> int:
    """The fewest runs of one sample whose e-value can reach 1/α at all (5 at α = 0.05)."""
    n = 2
    while max_log_e(n - 1, n, g) < math.log(1 / alpha):
        n += 1
    return n


@dataclass(frozen=True)
class Summary:
    """What the mixture e-value needs of the runs: the estimate, its standard error (sd/√N), N and ν."""

    estimate: float
    se: float
    n_eff: float
    nu: int

    def log_e_at(self, mu0: float, g: float = G) -> float:
        """ln E against "the effect is μ0"."""
        if self.nu < 1 or not math.isfinite(self.estimate):
            return 0.0
        diff = self.estimate - mu0
        t = 0.0 if diff == 0 else (math.copysign(math.inf, diff) if self.se == 0 else diff / self.se)
        return log_e(t, self.nu, self.n_eff, g)

    def log_e_against(self, low: float, high: float, g: float = G) -> float:
        """ln E against "the effect lies in [low, high]": the smallest over the set (its nearest point)."""
        return self.log_e_at(min(max(self.estimate, low), high), g)

    def sequence(self, alpha: float, g: float = G) -> tuple[float, float]:
        """The (1 − α) confidence sequence at these runs: every μ0 whose E stays below 1/α."""
        c = t_crossing(self.nu, self.n_eff, 1 / alpha, g)
        if not math.isfinite(c) or not math.isfinite(self.estimate):
            return -math.inf, math.inf
        return self.estimate - c * self.se, self.estimate + c * self.se


def one_sample(x: np.ndarray) -> Summary:
    n = len(x)
    if n < 2:
        return Summary(float(np.mean(x)) if n else math.nan, math.inf, n, 0)
    return Summary(float(np.mean(x)), float(np.std(x, ddof=1)) / math.sqrt(n), n, n - 1)


def two_groups(a: np.ndarray, b: np.ndarray) -> Summary:
    na, nb = len(a), len(b)
    if na < 1 or nb < 1 or na + nb < 3:
        return Summary(math.nan, math.inf, 0, 0)
    pooled = (np.sum((a - a.mean()) ** 2) + np.sum((b - b.mean()) ** 2)) / (na + nb - 2)
    n_eff = na * nb / (na + nb)
    return Summary(float(a.mean() - b.mean()), math.sqrt(float(pooled) / n_eff), n_eff, na + nb - 2)


def summarize(pred, data: pd.DataFrame) -> tuple[Summary, str, dict[str, int]]:
    """The Summary of a supported prediction's tested rows, the effect's name and the runs per condition."""
    if pred.kind == "threshold":
        x = values(data, pred.condition) - pred.threshold
        return one_sample(x), f"mean ({pred.condition} − {pred.threshold:g})", {pred.condition: len(x)}
    a, b = pred.conditions
    if pred.test == "paired_t":
        ya, yb, seeds = paired(data, a, b)
        return one_sample(ya - yb), f"mean of paired differences ({a} − {b})", {a: len(seeds), b: len(seeds)}
    ya, yb = values(data, a), values(data, b)
    return two_groups(ya, yb), f"difference of means ({a} − {b})", {a: len(ya), b: len(yb)}


@dataclass(frozen=True)
class Evidence:
    """One look at a prediction's runs: the e-value for each decision, the decision they reach, and the
    confidence sequence at this look."""

    n: dict[str, int]
    estimate: float
    e_holds: float
    e_contradicts: float
    sequence: tuple[float, float]
    status: str  # holds | contradicted | inconclusive


def look(direction: str, min_effect: float, summary: Summary, n: dict[str, int], alpha: float,
         g: float = G) -> Evidence:
    """The e-values of a directional prediction at one look, and what they decide at level `alpha`."""
    from refute.components.predictions.outcome import CONTRADICTED, HOLDS, UNDECIDED

    d, est, inf = min_effect, summary.estimate, math.inf
    if direction == "two-sided":
        against_claim = summary.log_e_against(0.0, 0.0, g)
        against_fail = (min(summary.log_e_against(d, inf, g), summary.log_e_against(-inf, -d, g))
                        if d > 0 else -inf)
        big_enough = abs(est) >= d
    else:
        sign = 1.0 if direction == "greater" else -1.0
        # The claim: effect ≥ δ in the predicted direction; no effect or the wrong sign is its negation.
        wrong = (-inf, 0.0) if sign > 0 else (0.0, inf)
        short = (d, inf) if sign > 0 else (-inf, -d)
        against_claim = summary.log_e_against(*wrong, g)
        against_fail = summary.log_e_against(*short, g)
        big_enough = sign * est >= d
    bar = math.log(1 / alpha)
    if against_claim >= bar and big_enough:
        status = HOLDS
    elif against_fail >= bar:
        status = CONTRADICTED
    else:
        status = UNDECIDED
    return Evidence(n, est, math.exp(against_claim), math.exp(against_fail) if against_fail > -inf else 0.0,
                    summary.sequence(alpha, g), status)
