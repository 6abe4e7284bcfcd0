"""LORD++ (Javanmard & Montanari 2018; Ramdas et al. 2017): online control of the false discovery rate.

Tests arrive in a fixed order; test t is a discovery when p_t ≤ α_t, where α_t depends only on t and on the
times of earlier discoveries:

    α_t = γ_t·W0 + (q − W0)·γ_{t−τ1} + q·Σ_{j≥2} γ_{t−τj}

with τ1 < τ2 < … the earlier discovery times, W0 = q/2 the initial wealth, and γ a fixed sequence summing to 1
(γ_j ∝ log(max(j, 2)) / (j·e^√log j), the constant used by the onlineFDR package). With independent p-values
(super-uniform under the null), the false discovery rate stays at most q however many tests follow, so the
order must be fixed before the p-values are known (refute uses the order the plans were sealed in).
A test that cannot be a discovery (not decided yet, or not pre-registered) enters with p = 1: it takes its
slot, and a later discovery there only raises later levels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

GAMMA_C = 0.07720838


def gamma(j: int) -> float:
    return GAMMA_C * math.log(max(j, 2)) / (j * math.exp(math.sqrt(math.log(j))))


def lord_plus_plus(p_values: Sequence[float], q: float, w0: float | None = None) -> tuple[list[float], list[bool]]:
    """Each test's level α_t and whether it is a discovery, in the order given."""
    if not 0 < q < 1:
        raise ValueError(f"q must be between 0 and 1, not {q}")
    w0 = q / 2 if w0 is None else w0
    if not 0 < w0 <= q:
        raise ValueError(f"the initial wealth w0 must be in (0, q], not {w0}")
    levels, found, times = [], [], []
    for t, p in enumerate(p_values, 1):
        level = gamma(t) * w0
        if times:
            level += (q - w0) * gamma(t - times[0]) + q * sum(gamma(t - tau) for tau in times[1:])
        levels.append(level)
        found.append(bool(p <= level))
        if found[-1]:
            times.append(t)
    return levels, found
