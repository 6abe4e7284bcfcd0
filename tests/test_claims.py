"""Claims beyond one effect of one condition: no trend, ratios, relative equivalence of two conditions,
optima across a sweep, representations compared across seeds and layers. Each on data with a known answer."""

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError

from refute.components.predictions import PREDICTIONS, PredictionSpec, frame
from refute.components.predictions.outcome import CONTRADICTED, HOLDS, UNDECIDED


def pred(**kw):
    base = {"id": "p", "metric": "m", "reduce": "final", "alpha": 0.05}
    return TypeAdapter(PredictionSpec).validate_python({**base, **kw})


def run(p, data):
    data = frame(data) if isinstance(data, dict) else data
    return PREDICTIONS.get(p.kind).impl(p, data)


def status(p, data):
    r = run(p, data)
    return p.outcome(r, r.p, r.ci).status


def sweep_table(slope: float, seeds: int = 8, xs=(0.001, 0.01, 0.1), noise: float = 0.05, seed_sd: float = 0.3):
    g = np.random.default_rng(1)
    rows = []
    for s in range(seeds):
        offset = g.normal(0, seed_sd)
        for x in xs:
            rows.append({"condition": f"lr={x}", "seed": s, "metric": "m", "role": "y", "x": x,
                         "value": 1.0 + slope * np.log10(x) + offset + g.normal(0, noise)})
    return pd.DataFrame(rows)


# --- no trend --------------------------------------------------------------------------------------

def flat(**kw):
    return pred(kind="no_trend", x={"param": "train.lr"}, log_x=True, **kw)


@pytest.mark.parametrize("test", ["ols", "mixed"])
def test_a_flat_slope_is_accepted_as_no_trend(test):
    p = flat(test=test, margin=0.1)
    r = run(p, sweep_table(slope=0.0))
    assert r.extra["margin"] == 0.1 and -0.1 < r.estimate < 0.1
    assert r.p == max(r.extra["p_lower"], r.extra["p_upper"]) and r.p < 0.01
    assert status(p, sweep_table(slope=0.0)) == HOLDS


@pytest.mark.parametrize("test", ["ols", "mixed"])
def test_a_real_slope_contradicts_no_trend(test):
    p = flat(test=test, margin=0.1)
    assert status(p, sweep_table(slope=0.5)) == CONTRADICTED


def test_no_trend_by_spearman_rho():
    # Independent points (one seed per x): ρ near 0 within ±0.5 holds; a monotone trend contradicts it.
    g = np.random.default_rng(4)
    xs = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], 30)
    none = pd.DataFrame({"condition": "c", "seed": np.arange(xs.size), "metric": "m", "role": "y", "x": xs,
                         "value": g.normal(0, 1, xs.size)})
    p = pred(kind="no_trend", x={"param": "train.lr"}, test="spearman", margin=0.3)
    assert abs(run(p, none).estimate) < 0.2 and status(p, none) == HOLDS
    rising = none.assign(value=xs + g.normal(0, 0.5, xs.size))
    assert status(p, rising) == CONTRADICTED


def test_no_trend_is_undecided_when_the_slope_is_too_noisy():
    assert status(flat(test="ols", margin=0.1), sweep_table(slope=0.0, seeds=3, noise=1.0)) == UNDECIDED


def test_no_trend_rejects_a_rho_margin_of_one_or_more():
    with pytest.raises(ValidationError, match="0 < margin < 1"):
        flat(test="spearman", margin=1.5)
