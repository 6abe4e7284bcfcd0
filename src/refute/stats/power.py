"""Power analysis: how many seeds a prediction needs, from the variance the runs showed.

Each function answers for one test family at a planned effect: the power at the n that was run,
and the n (seeds per group) that gives 80% power. Closed forms come from statsmodels' power classes;
rank tests are planned as their t-test counterparts divided by the asymptotic relative efficiency
3/π (the standard planning rule for Mann–Whitney and Wilcoxon under normal data).
"""

from __future__ import annotations

import math

import numpy as np

TARGET = 0.8
MAX_SEEDS = 100_000
ARE_RANK = 3 / math.pi  # efficiency of rank tests relative to t under normality


def pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    """The pooled standard deviation of two groups (nan when neither has two values)."""
    dof = len(a) + len(b) - 2
    if dof <= 0:
        return float("nan")
    ss = (np.var(a, ddof=1) * (len(a) - 1) if len(a) > 1 else 0.0) + (np.var(b, ddof=1) * (len(b) - 1) if len(b) > 1 else 0.0)
    return float(np.sqrt(ss / dof))
