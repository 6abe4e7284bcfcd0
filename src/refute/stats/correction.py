"""Correction of p-values across one hypothesis's predictions (statsmodels' multipletests)."""

from __future__ import annotations


import math


METHODS = {"holm": "holm", "bh": "fdr_bh"}


def adjust(pvalues: list[float], method: str) -> list[float]:
    """Adjusted p-values in the same order; nan (a test that could not run) stays nan and does not
    count toward the number of tests."""
    from statsmodels.stats.multitest import multipletests

    out = [float(p) for p in pvalues]
    idx = [i for i, p in enumerate(out) if not math.isnan(p)]
    if method == "none" or len(idx) < 2:
        return out
    adjusted = multipletests([out[i] for i in idx], method=METHODS[method])[1]
    for i, p in zip(idx, adjusted):
        out[i] = float(p)
    return out
