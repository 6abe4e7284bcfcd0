"""Bootstrap confidence intervals (scipy), fixed-seeded so a report is reproducible."""

from __future__ import annotations


import warnings

import numpy as np


def bootstrap_ci(data: tuple[np.ndarray, ...], statistic, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of `statistic(*data, axis=-1)`; percentile stays defined for tied data."""
    from scipy import stats

    if any(len(d) < 2 for d in data):
        return (float("nan"), float("nan"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            data, statistic, vectorized=True, n_resamples=4999, confidence_level=level,
            method="percentile", rng=np.random.default_rng(0),
        )
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))
