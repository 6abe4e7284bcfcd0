"""The statistics stage on hand-made runs: prediction kinds end to end, correction, failed runs,
power and pre-registration, without training anything."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import write_yaml
from refute import io
from refute.spec.loader import load_hypothesis
from refute.stats.analyse import analyse

METRICS = ["train_loss", "val_loss", "train_acc", "val_acc", "weight_norm"]


def fake_runs(results, hyp_path, value, steps=100, diverged=None):
    """Write every condition's run as training would: `value(condition, seed, metric, step)` gives the
    logged numbers; `diverged` maps condition → {seed: step}."""
    hyp = load_hypothesis(hyp_path)
    for cond, h in hyp.runs().items():
        run = hyp.conditions[cond]
        rows = [{"seed": s, "step": t, "metric": m, "value": float(value(cond, s, m, t))}
                for s in run.seeds for m in METRICS for t in range(0, steps + 1, 5)]
        io.write_parquet(results / "runs" / h / "metrics.parquet", pd.DataFrame(rows))
        io.write_json(results / "runs" / h / "run.json",
                      {"seeds": list(run.seeds), "steps": steps, "wall_seconds": 1.0, "device": "cpu", "threads": 1,
                       "diverged": {str(s): t for s, t in (diverged or {}).get(cond, {}).items()}})
    return hyp


def noise(cond, seed, metric, salt=0):
    return np.random.default_rng(abs(hash((cond, seed, metric, salt))) % 2**32).normal()


@pytest.fixture
def lr_sweep(tmp_path, tiny):
    tiny["seeds"] = 8
    tiny["sweep"] = {"train.lr": [0.01, 0.02, 0.04]}
    return tiny


def test_edge_of_stability_style_equivalence_and_trend(tmp_path, lr_sweep):
    """Sharpness ≈ 2/lr in every condition (equivalence of the ratio), and sharpness falls with lr (trend)."""
    lr_sweep["predictions"] = [
        {"id": "ratio-near-one", "kind": "equivalence", "conditions": ["lr=0.01", "lr=0.02", "lr=0.04"],
         "metric": "weight_norm", "reduce": "final", "value": 1.0, "margin": 0.15, "relative": True},
        {"id": "falls-with-lr", "kind": "trend", "metric": "val_loss", "reduce": "final",
         "x": {"param": "train.lr"}, "log_x": True, "test": "mixed", "direction": "less"},
    ]
    path = write_yaml(tmp_path / "h.yaml", lr_sweep)
    lrs = {"lr=0.01": 0.01, "lr=0.02": 0.02, "lr=0.04": 0.04}

    def value(cond, seed, metric, step):
        if metric == "weight_norm":  # the ratio sharpness / (2 / lr): 1 ± 3%
            return 1.0 + 0.03 * noise(cond, seed, metric)
        return 2 / lrs[cond] + 5 * noise(cond, seed, metric) + seed  # sharpness, with a seed offset

    fake_runs(tmp_path / "results", path, value)
    verdict = analyse(path, tmp_path / "results")
    assert verdict["verdict"] == "SUPPORTED", verdict["reasons"]
    preds = {p["id"]: p for p in json.loads((tmp_path / "results/tiny/predictions.json").read_text())}
    tr = preds["falls-with-lr"]["result"]
    assert tr["n"] == {"points": 24, "seeds": 8, "levels": 3} and tr["estimate"] < 0
    assert preds["ratio-near-one"]["result"]["n"] == {"lr=0.01": 8, "lr=0.02": 8, "lr=0.04": 8}
    reduced = pd.read_parquet(tmp_path / "results/tiny/reduced.parquet")
    assert set(reduced.x.dropna().round(3)) == {0.01, 0.02, 0.04}


def test_stagewise_style_trend_over_metrics_within_runs(tmp_path, tiny):
    """Each run logs one metric per mode; the step each reaches its threshold falls with the mode's
    singular value (stand-ins: three logged metrics at x = 3, 2, 1)."""
    tiny["seeds"] = 6
    svs = {"train_acc": 3.0, "val_acc": 2.0, "weight_norm": 1.0}
    tiny["predictions"] = [
        {"id": "bigger-modes-first", "kind": "trend", "x": {"metrics": svs}, "test": "mixed", "direction": "less",
         "reduce": {"name": "first_crossing", "threshold": 0.5}},
    ]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    # A mode with singular value s rises past 0.5 at step ≈ 75 / s, give or take a seed's jitter.
    fake_runs(tmp_path / "results", path,
              lambda c, s, m, t: float(t >= 75 / svs[m] + 8 * noise(c, s, m)) if m in svs else 1.0)
    verdict = analyse(path, tmp_path / "results")
    [pred] = json.loads((tmp_path / "results/tiny/predictions.json").read_text())
    assert pred["result"]["n"] == {"points": 18, "seeds": 6, "levels": 3}
    assert pred["result"]["estimate"] < 0
    assert verdict["verdict"] == "SUPPORTED", verdict["reasons"]


def test_report_renders_every_kind(tmp_path, lr_sweep):
    from refute.report.markdown import write_report

    lr_sweep["predictions"] = [
        {"id": "eq", "kind": "equivalence", "conditions": ["lr=0.01", "lr=0.02"], "metric": "weight_norm",
         "reduce": "final", "margin": 0.5},
        {"id": "tr", "kind": "trend", "x": {"metrics": {"train_acc": 1.0, "val_acc": 2.0}}, "reduce": "final",
         "direction": "greater"},
    ]
    path = write_yaml(tmp_path / "h.yaml", lr_sweep)
    fake_runs(tmp_path / "results", path, lambda c, s, m, t: noise(c, s, m))
    analyse(path, tmp_path / "results")
    text = write_report("tiny", tmp_path / "results").read_text()
    assert "metrics `train_acc` (x = 1), `val_acc` (x = 2)" in text and "within ±0.5" in text
