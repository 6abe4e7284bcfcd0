"""power_law beyond the pure law: the saturating form E + A·x^b that scaling-law work fits, and a lack-of-fit
test, so data from another law are flagged as misspecified rather than given an exponent."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from refute.components.predictions.outcome import HOLDS, UNDECIDED
from test_stats_kinds import pred, run, status

WIDTHS = (16, 32, 64, 128, 256, 512, 1024)


def law(f, seeds: int = 5, widths=WIDTHS, noise: float = 0.02, seed: int = 7, repeat_seeds: bool = False):
    """value = f(width) × e^noise, one run per (width, seed); seeds are shared across widths if `repeat_seeds`."""
    g = np.random.default_rng(seed)
    return pd.DataFrame([{"condition": f"w={w}", "seed": s if repeat_seeds else i * seeds + s, "metric": "m",
                          "role": "y", "x": float(w), "value": f(w) * np.exp(g.normal(0, noise))}
                         for i, w in enumerate(widths) for s in range(seeds)])


pure = lambda w: 3.0 * w**-0.5
saturating = lambda w: 0.4 + 3.0 * w**-0.5
exponential = lambda w: 0.2 + np.exp(-w / 200)


def power_law(**kw):
    return pred(kind="power_law", x={"param": "model.params.width"}, exponent={"low": -0.6, "high": -0.4}, **kw)


def test_a_pure_power_law_passes_its_lack_of_fit_test_and_holds():
    r = run(power_law(), law(pure))
    assert r.extra["lack_of_fit_p"] > 0.05 and r.estimate == pytest.approx(-0.5, abs=0.02)
    assert status(power_law(), law(pure)) == HOLDS


def test_a_saturating_law_fitted_as_a_pure_one_is_flagged_as_misspecified():
    p = power_law()
    r = run(p, law(saturating))
    assert r.extra["lack_of_fit_p"] < 1e-6  # a curved log–log plot
    outcome = p.outcome(r, r.p, r.ci)
    assert outcome.status == UNDECIDED and "lack of fit" in outcome.reason and "saturating" in outcome.reason


@pytest.mark.parametrize("repeat_seeds", [False, True])
def test_the_saturating_form_recovers_the_exponent_and_the_asymptote(repeat_seeds):
    p = power_law(form="saturating")
    data = law(saturating, repeat_seeds=repeat_seeds)
    r = run(p, data)
    assert r.estimate == pytest.approx(-0.5, abs=0.05) and r.ci[0] < -0.5 < r.ci[1]
    assert r.extra["asymptote"] == pytest.approx(0.4, abs=0.05) and r.extra["lack_of_fit_p"] > 0.05
    assert "E + A·x^b" in r.test
    assert status(p, data) == HOLDS


def test_data_from_another_law_are_misspecified_in_either_form():
    for form in ("pure", "saturating"):
        p = power_law(form=form)
        r = run(p, law(exponential))
        assert r.extra["lack_of_fit_p"] < 0.05, form
        assert p.outcome(r, r.p, r.ci).status == UNDECIDED


def test_lack_of_fit_can_be_switched_off_and_says_when_it_cannot_be_tested():
    p = power_law(lack_of_fit=None)
    assert "lack_of_fit_p" not in run(p, law(saturating)).extra
    one_each = run(power_law(), law(pure, seeds=1))  # no repeated runs at any x: no pure error to test against
    assert "lack_of_fit_p" not in one_each.extra
    assert any("lack of fit not tested" in n for n in one_each.notes)


def test_the_saturating_form_needs_three_distinct_x_and_is_fitted_by_least_squares():
    with pytest.raises(ValidationError, match="mixed"):
        power_law(form="saturating", test="mixed")
    r = run(power_law(form="saturating"), law(saturating, widths=(16, 64)))
    assert np.isnan(r.p) and "3 distinct x" in r.notes[0]
