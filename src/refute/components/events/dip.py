"""Hartigan's dip test of unimodality (Hartigan & Hartigan 1985), for the `split` detector.

The dip is the sup-norm distance from a sample's empirical CDF to the nearest unimodal CDF: one convex
up to the mode and concave after it. Here, for each candidate mode x_k, the convex fit to the points left
of it and the concave fit to those right of it are found separately (the greatest convex minorant and the
least concave majorant, evaluated over every chord, vectorized), and the junction of the two at the mode
is not required to agree: the statistic is the dip's lower bound from the two one-sided fits. Its null
distribution is simulated from the uniform (the least favourable unimodal law for the dip), so the p-value
is valid for what it computes; the known-answer tests (tests/test_events.py) pin its behaviour: uniform and
normal samples give p spread over (0, 1], two separated clusters give p near 0.

An internal helper of this package (not a component): nothing registers here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

NULL_DRAWS = 2000
_CHUNK = 256


def dip(x: np.ndarray) -> float:
    """The dip statistic of one sample (0 for fewer than 4 distinct values)."""
    return float(dips(np.asarray(x, float)[None, :])[0])


def dips(samples: np.ndarray) -> np.ndarray:
    """The dip statistic of each row of `samples` [B, n]."""
    samples = np.sort(np.asarray(samples, float), axis=1)
    b, n = samples.shape
    if n < 4:
        return np.zeros(b)
    out = np.empty(b)
    for lo in range(0, b, _CHUNK):
        out[lo:lo + _CHUNK] = _dips_sorted(samples[lo:lo + _CHUNK])
    return out


def _dips_sorted(x: np.ndarray) -> np.ndarray:
    b, n = x.shape
    span = x[:, -1:] - x[:, :1]
    span[span == 0] = 1.0
    x = (x - x[:, :1]) / span  # affine invariant: work on [0, 1]
    upper = np.arange(1, n + 1) / n  # F at each point
    lower = np.arange(0, n) / n  # F just before it
    left = _one_side(x, upper, lower)
    # The concave majorant on the right is the convex minorant of the mirrored sample.
    right = _one_side(1 - x[:, ::-1], upper, lower)[:, ::-1]
    # Mode at point k: the convex fit uses points 0..k, the concave fit points k..n-1.
    return np.min(np.maximum(left, right), axis=1) / 2


def _one_side(x: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """[B, n]: for each prefix 0..k, the largest amount by which the CDF's values rise above the greatest
    convex minorant of its values just before each point (twice the prefix's sup distance from a convex
    CDF: a continuous G within D of F_n lies in [U_i − D, L_i + D] at each point x_i)."""
    b, n = x.shape
    i = np.arange(n)
    # chord[a, c, i]: the line through (x_a, L_a) and (x_c, L_c) at x_i, for a <= i <= c.
    xa, xc, xi = x[:, :, None, None], x[:, None, :, None], x[:, None, None, :]
    ua, uc = lower[:, None, None], lower[None, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(xc > xa, (xi - xa) / (xc - xa), 0.0)
    chord = ua + t * (uc - ua)
    valid = (i[:, None, None] <= i[None, None, :]) & (i[None, None, :] <= i[None, :, None])
    chord = np.where(valid[None], chord, np.inf)
    best = chord.min(axis=1)  # [B, c, i]: min over a of the chords ending at c
    # The minorant of prefix 0..k at x_i is the lowest chord with c <= k: a running minimum over c.
    gcm = np.minimum.accumulate(best, axis=1)  # [B, k, i]
    gap = upper[None, None, :] - gcm
    gap = np.where(i[None, None, :] <= i[None, :, None], gap, -np.inf)
    return np.maximum(gap.max(axis=2), 0.0)


@lru_cache(maxsize=None)
def null_dips(n: int, draws: int = NULL_DRAWS) -> np.ndarray:
    """Sorted dips of `draws` uniform samples of size n (a fixed generator: the same p every time)."""
    rng = np.random.default_rng(20250601 + n)
    return np.sort(dips(rng.uniform(size=(draws, n))))


def dip_test(x: np.ndarray) -> tuple[float, float]:
    """(dip, p): p is the fraction of uniform samples of the same size with a dip at least as large
    (plus one, so p is never 0)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) < 4 or np.ptp(x) == 0:
        return 0.0, 1.0
    d = dip(x)
    null = null_dips(len(x))
    k = len(null) - np.searchsorted(null, d - 1e-12, side="left")
    return d, float((k + 1) / (len(null) + 1))
