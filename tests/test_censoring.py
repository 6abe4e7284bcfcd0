"""Censored runs: a "steps to reach X" value of a run that never reached X is the step budget, a bound and
not a measurement. When such runs decide a prediction, its outcome and the verdict say so; a prediction may
cap the censored share it accepts (`max_censored`), beyond which it is undecided."""

import json

import pytest
from pydantic import ValidationError

from conftest import analyse_file, write_yaml
from test_analyse import fake_runs, noise
from test_stats_kinds import pred

LRS = {"lr=0.01": 0.01, "lr=0.02": 0.02, "lr=0.04": 0.04}


def sweep(tiny, **extra):
    tiny["seeds"] = 6
    tiny["sweep"] = {"train.lr": list(LRS.values())}
    tiny["predictions"] = [{"id": "faster-with-lr", "kind": "trend", "metric": "val_acc",
                            "reduce": {"name": "first_crossing", "threshold": 0.9}, "x": {"param": "train.lr"},
                            "log_x": True, "test": "spearman", "direction": "less", **extra}]
    return tiny


def reach(step_of):
    """val_acc jumps from 0 to 1 at `step_of(condition, seed)` (None: never within the budget)."""
    def value(cond, seed, metric, t):
        at = step_of(cond, seed)
        return 1.0 if metric == "val_acc" and at is not None and t >= at else 0.0
    return value


def mostly_censored(cond, seed):
    # 12 of 18 runs never reach 0.9 (lr 0.01 and 0.02); only lr 0.04 does, around step 40.
    return 40 + 5 * round(noise(cond, seed, "t")) if cond == "lr=0.04" else None


def everyone_reaches(cond, seed):
    return {"lr=0.01": 80, "lr=0.02": 60, "lr=0.04": 40}[cond] + 5 * round(noise(cond, seed, "t"))


def analysed(tmp_path, spec, step_of):
    path = write_yaml(tmp_path / "h.yaml", spec)
    fake_runs(tmp_path / "results", path, reach(step_of))
    verdict = analyse_file(path, tmp_path / "results")
    [p] = json.loads((tmp_path / "results/tiny/predictions.json").read_text())
    return verdict, p


def test_a_trend_decided_by_censored_runs_says_so_in_its_outcome_and_the_verdict(tmp_path, tiny):
    verdict, p = analysed(tmp_path, sweep(tiny), mostly_censored)
    assert p["result"]["counts"]["censored"] == 12 and p["outcome"]["status"] == "holds"
    reason = p["outcome"]["reason"]
    assert "12 of 18 runs censored at the step budget" in reason
    assert "without them the prediction would be inconclusive" in reason
    assert verdict["verdict"] == "SUPPORTED"
    assert any("censored runs decide" in r for r in verdict["reasons"]), verdict["reasons"]


def test_beyond_max_censored_a_prediction_is_undecided_with_the_reason(tmp_path, tiny):
    verdict, p = analysed(tmp_path, sweep(tiny, max_censored=0.25), mostly_censored)
    assert p["outcome"]["status"] == "inconclusive"
    assert "12 of 18 runs (67%) censored at the step budget" in p["outcome"]["reason"]
    assert "max_censored = 0.25" in p["outcome"]["reason"]
    assert verdict["verdict"] == "INCONCLUSIVE"


def test_runs_that_all_reach_the_event_are_judged_as_before(tmp_path, tiny):
    verdict, p = analysed(tmp_path, sweep(tiny, max_censored=0.0), everyone_reaches)
    assert p["result"]["counts"]["censored"] == 0 and p["outcome"]["status"] == "holds"
    assert "censored" not in p["outcome"]["reason"] and verdict["verdict"] == "SUPPORTED"


def test_censored_runs_that_do_not_change_the_outcome_are_counted_not_blamed(tmp_path, tiny):
    # One censored run of 18: the uncensored 17 reach the same outcome.
    step_of = lambda c, s: None if (c, s) == ("lr=0.01", 0) else everyone_reaches(c, s)
    verdict, p = analysed(tmp_path, sweep(tiny), step_of)
    assert p["result"]["counts"]["censored"] == 1 and p["outcome"]["status"] == "holds"
    assert "1 of 18 runs censored at the step budget" in p["outcome"]["reason"]
    assert "decide" not in p["outcome"]["reason"]


def test_max_censored_is_a_fraction():
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        pred(kind="threshold", condition="a", threshold=0, direction="greater", max_censored=1.5)
