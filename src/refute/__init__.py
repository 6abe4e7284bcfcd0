"""refute: hypothesis-testing workflows for the science of deep learning.

In a notebook, `refute.load()` gives every analysed hypothesis's results as two tidy DataFrames.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from refute.scaling import blas

# Before torch's first product, wherever refute is imported from: MKL reads it once (refute.scaling.blas).
blas.request()

if TYPE_CHECKING:
    from refute.loop.collect import Collected


def load(results: str | Path = "results", hypotheses: str | Path = "hypotheses") -> Collected:
    """`.metrics` (hypothesis, condition, run, parameters, seed, step, metric, value) and `.predictions`
    (one row per prediction, with its test and outcome) of every hypothesis with a verdict in `results`.
    The project's own components (beside `hypotheses`) are loaded first: the plans may name them."""
    from refute.loop.collect import collect
    from refute.spec.loader import load_project_components

    load_project_components(hypotheses)

    return collect(results)
