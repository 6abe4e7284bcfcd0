"""Reductions turn one run's series into one number, with known answers."""

import numpy as np
import pytest

from refute.components.reductions import Reduction
from pydantic import TypeAdapter

from refute.components import reductions

STEPS = np.array([0, 10, 20, 30, 40])
VALUES = np.array([0.0, 0.2, 0.9, 0.96, 0.94])


def spec(**kw):
    return TypeAdapter(Reduction).validate_python(kw)


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"name": "final"}, 0.94),
        ({"name": "max"}, 0.96),
        ({"name": "min"}, 0.0),
        ({"name": "mean_last", "k": 2}, 0.95),
        ({"name": "first_crossing", "threshold": 0.95}, 30.0),
        ({"name": "first_crossing", "threshold": 0.1, "above": False}, 0.0),
        ({"name": "auc"}, np.trapezoid(VALUES, STEPS) / 40),
    ],
)
def test_known_answers(kw, expected):
    assert reductions.apply(spec(**kw), STEPS, VALUES, budget=40) == pytest.approx(expected)


def test_never_crossing_counts_as_the_budget_and_is_flagged_censored():
    r = spec(name="first_crossing", threshold=0.99)
    value = reductions.apply(r, STEPS, VALUES, budget=40)
    assert value == 40 and reductions.is_censored(r, value, 40)


def test_never_crossing_can_be_missing_instead():
    r = spec(name="first_crossing", threshold=0.99, if_never="nan")
    assert np.isnan(reductions.apply(r, STEPS, VALUES, budget=40))


def test_series_order_does_not_matter():
    order = np.array([3, 0, 4, 1, 2])
    assert reductions.apply(spec(name="final"), STEPS[order], VALUES[order], 40) == 0.94
