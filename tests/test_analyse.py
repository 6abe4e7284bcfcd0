"""The statistics stage on hand-made runs: prediction kinds end to end, correction, failed runs,
power and pre-registration, without training anything."""

import json
import zlib

import numpy as np
import pandas as pd
import pytest

from conftest import analyse_file, write_yaml
from refute import io
from refute.spec.loader import load_hypothesis
from refute.spec.seal import seal

METRICS = ["train_loss", "val_loss", "train_acc", "val_acc", "weight_norm"]


def fake_runs(results, hyp_path, value, steps=100, diverged=None):
    """Write every condition's run as training would, after sealing the plan as the workflow does when it
    starts: `value(condition, seed, metric, step)` gives the logged numbers; `diverged` maps condition →
    {seed: step}."""
    hyp = load_hypothesis(hyp_path)
    seal(hyp, lambda h: (results / "runs" / h / "run.json").exists())
    for cond, h in hyp.runs.items():
        run = hyp.conditions[cond]
        rows = [{"seed": s, "step": t, "metric": m, "value": float(value(cond, s, m, t))}
                for s in run.seeds for m in METRICS for t in range(0, steps + 1, 5)]
        io.write_parquet(results / "runs" / h / "metrics.parquet", pd.DataFrame(rows))
        io.write_json(results / "runs" / h / "run.json",
                      {"seeds": list(run.seeds), "steps": steps, "wall_seconds": 1.0, "device": "cpu", "threads": 1,
                       "diverged": {str(s): t for s, t in (diverged or {}).get(cond, {}).items()}})
    return hyp


def noise(cond, seed, metric):
    """A standard normal draw fixed by (condition, seed, metric), the same in every process."""
    return np.random.default_rng(zlib.crc32(f"{cond}/{seed}/{metric}".encode())).normal()


@pytest.fixture
def lr_sweep(tmp_path, tiny):
    tiny["seeds"] = 8
    tiny["sweep"] = {"train.lr": [0.01, 0.02, 0.04]}
    return tiny


def test_edge_of_stability_style_equivalence_and_trend(tmp_path, lr_sweep):
    """Sharpness ÷ (2/lr) ≈ 1 within ±15% in every condition (equivalence), and sharpness falls with lr
    (trend). val_loss stands in for the logged sharpness."""
    lr_sweep["predictions"] = [
        {"id": "at-the-edge", "kind": "equivalence", "conditions": ["lr=0.01", "lr=0.02", "lr=0.04"],
         "metric": "val_loss", "reduce": "final", "divide_by": {"param": "train.lr", "power": -1, "times": 2},
         "value": 1.0, "margin": 0.15, "relative": True},
        {"id": "falls-with-lr", "kind": "trend", "metric": "val_loss", "reduce": "final",
         "x": {"param": "train.lr"}, "log_x": True, "test": "mixed", "direction": "less"},
    ]
    path = write_yaml(tmp_path / "h.yaml", lr_sweep)
    lrs = {"lr=0.01": 0.01, "lr=0.02": 0.02, "lr=0.04": 0.04}
    # Sharpness 2/lr, within 3% per seed.
    fake_runs(tmp_path / "results", path, lambda c, s, m, t: 2 / lrs[c] * (1 + 0.03 * noise(c, s, m)))
    verdict = analyse_file(path, tmp_path / "results")
    assert verdict["verdict"] == "SUPPORTED", verdict["reasons"]
    preds = {p["id"]: p for p in json.loads((tmp_path / "results/tiny/predictions.json").read_text())}
    tr = preds["falls-with-lr"]["result"]
    assert tr["n"] == {"points": 24, "seeds": 8, "levels": 3} and tr["estimate"] < 0
    eq = preds["at-the-edge"]["result"]
    assert eq["n"] == {"lr=0.01": 8, "lr=0.02": 8, "lr=0.04": 8} and abs(eq["estimate"]) < 0.05
    reduced = pd.read_parquet(tmp_path / "results/tiny/reduced.parquet")
    ratios = reduced[reduced.prediction == "at-the-edge"].value
    assert ratios.between(0.8, 1.2).all()  # divided by 2/lr
    assert set(reduced.x.dropna().round(3)) == {0.01, 0.02, 0.04}

    from refute.report.markdown import write_report
    assert "metric `val_loss` ÷ (2 × train.lr^-1)" in write_report("tiny", tmp_path / "results").read_text()


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
    verdict = analyse_file(path, tmp_path / "results")
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
    analyse_file(path, tmp_path / "results")
    text = write_report("tiny", tmp_path / "results").read_text()
    assert "metrics `train_acc` (x = 1), `val_acc` (x = 2)" in text and "within ±0.5" in text


def two_conditions(tiny, predictions, seeds=6, **extra):
    tiny["seeds"] = seeds
    tiny["conditions"] = {"a": {"train.lr": 0.01}, "b": {"train.lr": 0.02}}
    tiny["predictions"] = predictions
    tiny.update(extra)
    return tiny


def shifted(shift):
    """val_acc = 0.5 + shift in condition a, with seed noise; other metrics noise."""
    return lambda c, s, m, t: (0.5 + (shift if c == "a" else 0.0) + 0.05 * noise(c, s, m))


CMP = {"kind": "compare", "conditions": ["a", "b"], "metric": "val_acc", "reduce": "final", "direction": "greater"}


def preds(path):
    return {p["id"]: p for p in json.loads((path / "predictions.json").read_text())}


@pytest.mark.parametrize("correction, expected", [("holm", "holm"), ("bh", "bh"), ("none", "none")])
def test_p_values_are_corrected_across_predictions(tmp_path, tiny, correction, expected):
    spec = two_conditions(tiny, [{"id": f"p{i}", **CMP} for i in range(3)], analysis={"correction": correction})
    path = write_yaml(tmp_path / "h.yaml", spec)
    fake_runs(tmp_path / "results", path, shifted(0.05))
    analyse_file(path, tmp_path / "results")
    out = preds(tmp_path / "results/tiny")
    raw = [out[f"p{i}"]["result"]["p"] for i in range(3)]
    adj = [out[f"p{i}"]["result"]["p_adjusted"] for i in range(3)]
    assert all(o["result"]["correction"] == expected for o in out.values())
    if correction == "holm":  # three equal p-values: Holm multiplies the smallest by 3
        assert adj == pytest.approx([min(1, 3 * p) for p in raw])
    elif correction == "bh":
        assert adj == pytest.approx(raw)
    else:
        assert adj == raw
    # The CI that contradicts is widened to 1 − α/k under a correction.
    level = out["p0"]["result"]["ci_judged_level"]
    assert level == pytest.approx(1 - 0.05 / 3 if correction != "none" else 0.95)


def test_verdict_uses_the_corrected_p(tmp_path, tiny):
    # One prediction barely significant on its own is not, once corrected for three.
    spec = two_conditions(tiny, [{"id": "weak", **CMP, "metric": "val_acc"},
                                 {"id": "other1", **CMP, "metric": "train_acc", "direction": "two-sided"},
                                 {"id": "other2", **CMP, "metric": "train_loss", "direction": "two-sided"}],
                          seeds=10)
    path = write_yaml(tmp_path / "h.yaml", spec)
    g = np.random.default_rng(5)
    a = g.normal(0, 1, 10)
    a = (a - a.mean()) / a.std(ddof=1)  # exact mean and sd so the raw p is known
    b = -a[::-1] * 0 + g.normal(0, 1, 10)
    b = (b - b.mean()) / b.std(ddof=1) - 0.85
    vals = {"a": a, "b": b}
    fake_runs(tmp_path / "results", path,
              lambda c, s, m, t: vals[c][s] if m == "val_acc" else noise(c, s, m))
    verdict = analyse_file(path, tmp_path / "results")
    weak = preds(tmp_path / "results/tiny")["weak"]["result"]
    assert weak["p"] < 0.05 <= weak["p_adjusted"]
    assert verdict["predictions"]["weak"] == "inconclusive"


def test_a_diverged_run_makes_the_verdict_invalid_by_default(tmp_path, tiny):
    spec = two_conditions(tiny, [{"id": "p", **CMP}])
    path = write_yaml(tmp_path / "h.yaml", spec)
    fake_runs(tmp_path / "results", path, shifted(0.3), diverged={"a": {2: 50}})
    verdict = analyse_file(path, tmp_path / "results")
    assert verdict["verdict"] == "INVALID" and "seed 2 diverged" in verdict["reasons"][0]
    p = preds(tmp_path / "results/tiny")["p"]["result"]
    assert p["counts"] == {"runs": 12, "used": 11, "failed": 1, "no_value": 0, "censored": 0, "uncertified": 0}
    assert p["n"] == {"a": 5, "b": 6}
    reduced = pd.read_parquet(tmp_path / "results/tiny/reduced.parquet")
    assert reduced.failed.sum() == 1 and not reduced[reduced.failed].used.any()  # shown, not used


def test_failed_runs_can_count_against_the_prediction(tmp_path, tiny):
    spec = two_conditions(tiny, [{"id": "p", **CMP, "test": "mannwhitney"}], analysis={"failed_runs": "against"})
    path = write_yaml(tmp_path / "h.yaml", spec)
    fake_runs(tmp_path / "results", path, shifted(0.3), diverged={"a": {0: 50, 1: 60, 2: 70}})
    verdict = analyse_file(path, tmp_path / "results")
    p = preds(tmp_path / "results/tiny")["p"]["result"]
    assert verdict["verdict"] != "INVALID" and verdict["failures"]
    assert p["counts"]["failed"] == 3 and p["n"] == {"a": 6, "b": 6}
    # Three of a's six runs rank below every run of b: the planted shift is no longer significant.
    assert p["p"] > 0.05 and verdict["verdict"] == "INCONCLUSIVE"


DIVERGES = [{"id": "stable", "kind": "proportion", "conditions": ["a"], "metric": "train_loss", "reduce": "final",
             "meets": {"diverged": False}, "p0": 0.5, "direction": "greater"},
            {"id": "diverges", "kind": "proportion", "conditions": ["b"], "metric": "train_loss", "reduce": "final",
             "meets": {"diverged": True}, "p0": 0.5, "direction": "greater"}]


def test_a_prediction_that_counts_divergence_reads_a_diverged_run_as_its_outcome_not_a_failure(tmp_path, tiny):
    """A divergence boundary's draft: runs of b diverge, runs of a do not; neither invalidates the verdict."""
    path = write_yaml(tmp_path / "h.yaml", two_conditions(tiny, DIVERGES, seeds=8))
    fake_runs(tmp_path / "results", path, shifted(0.0), diverged={"b": {s: 40 + s for s in range(8)}})
    verdict = analyse_file(path, tmp_path / "results")
    assert verdict["verdict"] == "SUPPORTED" and not verdict["failures"]
    found = preds(tmp_path / "results/tiny")
    assert found["diverges"]["result"]["estimate"] == pytest.approx(0.5)  # 8 of 8 diverged: fraction 1 − p0
    assert found["diverges"]["result"]["counts"]["failed"] == 0
    assert "8 of 8 run(s) diverged" in " ".join(found["diverges"]["result"]["notes"])
    assert found["stable"]["result"]["estimate"] == pytest.approx(0.5)  # none diverged


def test_a_diverged_run_that_another_prediction_reads_still_fails_the_hypothesis(tmp_path, tiny):
    spec = two_conditions(tiny, [*DIVERGES, {"id": "p", **CMP}], seeds=8)
    path = write_yaml(tmp_path / "h.yaml", spec)
    fake_runs(tmp_path / "results", path, shifted(0.3), diverged={"b": {0: 40}})
    verdict = analyse_file(path, tmp_path / "results")
    assert verdict["verdict"] == "INVALID" and "condition b, seed 0 diverged" in verdict["reasons"][0]


def test_counting_failed_runs_against_needs_a_rank_or_count_test(tmp_path, tiny):
    from refute.spec.errors import SpecError

    spec = two_conditions(tiny, [{"id": "p", **CMP, "test": "welch"}], analysis={"failed_runs": "against"})
    with pytest.raises(SpecError, match="analysis.failed_runs: prediction 'p'.*cannot count a failed run"):
        load_hypothesis(write_yaml(tmp_path / "h.yaml", spec))


def test_undecided_predictions_get_a_seed_plan(tmp_path, tiny):
    spec = two_conditions(tiny, [{"id": "p", **CMP, "min_effect": 0.05}], seeds=3)
    path = write_yaml(tmp_path / "h.yaml", spec)
    fake_runs(tmp_path / "results", path, shifted(0.05))
    verdict = analyse_file(path, tmp_path / "results")
    plan = preds(tmp_path / "results/tiny")["p"]["result"]["power"]
    assert verdict["verdict"] == "INCONCLUSIVE"
    assert plan["seeds_for_80"] > 3 and 0 < plan["power_at_n"] < 0.8 and plan["effect"] == 0.05
    assert verdict["power"]["p"]["seeds_for_80"] == plan["seeds_for_80"]


def test_the_seal_registers_the_plan_and_later_edits_are_post_hoc(tmp_path, tiny):
    spec = two_conditions(tiny, [{"id": "p", **CMP, "description": "a beats b"}])
    path = write_yaml(tmp_path / "h.yaml", spec)
    results = tmp_path / "results"
    fake_runs(results, path, shifted(0.3))
    first = analyse_file(path, results)
    reg = json.loads((tmp_path / ".sealed/tiny.json").read_text())
    assert first["post_hoc"] is False and first["preregistration"]["sha256"] == reg["sha256"]

    # Rewording a description, or spelling out a default, is not an edit of the plan.
    spec["predictions"][0].update(description="condition a beats b", alpha=0.05)
    write_yaml(path, spec)
    assert analyse_file(path, results)["post_hoc"] is False

    # Changing what is tested is, and the seal is kept as it was.
    spec["predictions"][0]["min_effect"] = 0.1
    write_yaml(path, spec)
    later = analyse_file(path, results)
    assert later["post_hoc"] is True
    assert later["preregistration"]["changed"] == ["prediction 'p' edited (min_effect)"]
    assert json.loads((tmp_path / ".sealed/tiny.json").read_text()) == reg


def test_a_plan_sealed_after_its_runs_were_trained_reads_seen_data(tmp_path, tiny):
    """A new hypothesis that reuses runs another one already trained (and read) is not pre-registered on
    them: its predictions are 'seen data', listed but not scored."""
    from refute.report.markdown import write_report

    spec = two_conditions(tiny, [{"id": "p", **CMP}])
    first = write_yaml(tmp_path / "first" / "h.yaml", spec)
    results = tmp_path / "results"
    fake_runs(results, first, shifted(0.3))
    assert analyse_file(first, results)["preregistration"]["seen"] == {}

    later = write_yaml(tmp_path / "later" / "h.yaml", spec)  # written after the runs exist
    hyp = load_hypothesis(later)
    seal(hyp, lambda h: (results / "runs" / h / "run.json").exists())  # the workflow starting
    verdict = analyse_file(later, results)
    assert verdict["post_hoc"] is False and verdict["verdict"] == "SUPPORTED"
    assert set(verdict["preregistration"]["seen"]) == set(hyp.runs.values())
    seen = preds(results / "tiny")["p"]["seen"]
    assert [s.split(":")[0] for s in seen] == [f"condition 'a' (run {hyp.runs['a']})",
                                               f"condition 'b' (run {hyp.runs['b']})"]
    text = write_report("tiny", results).read_text()
    assert "Pre-registered" not in text and "2 prediction(s) read seen data" not in text
    assert "1 prediction(s) read seen data" in text and "### `p` — holds (seen data)" in text


def test_deleting_results_does_not_reset_the_seal(tmp_path, tiny):
    import shutil

    spec = two_conditions(tiny, [{"id": "p", **CMP}])
    path = write_yaml(tmp_path / "h.yaml", spec)
    results = tmp_path / "results"
    fake_runs(results, path, shifted(0.3))
    analyse_file(path, results)
    shutil.rmtree(results)
    spec["predictions"][0]["min_effect"] = 0.1
    write_yaml(path, spec)
    fake_runs(results, path, shifted(0.3))
    assert analyse_file(path, results)["post_hoc"] is True


def test_analysed_without_a_seal_every_existing_run_counts_as_seen(tmp_path, tiny):
    spec = two_conditions(tiny, [{"id": "p", **CMP}])
    path = write_yaml(tmp_path / "h.yaml", spec)
    results = tmp_path / "results"
    hyp = fake_runs(results, path, shifted(0.3))
    (tmp_path / ".sealed/tiny.json").unlink()  # never sealed before its runs were trained
    verdict = analyse_file(path, results)
    assert set(verdict["preregistration"]["seen"]) == set(hyp.runs.values())


def test_adding_seeds_after_a_result_is_post_hoc(tmp_path, tiny):
    spec = two_conditions(tiny, [{"id": "p", **CMP}])
    path = write_yaml(tmp_path / "h.yaml", spec)
    fake_runs(tmp_path / "results", path, shifted(0.3))
    analyse_file(path, tmp_path / "results")
    spec["seeds"] = 12
    write_yaml(path, spec)
    fake_runs(tmp_path / "results", path, shifted(0.3))
    later = analyse_file(path, tmp_path / "results")
    assert later["post_hoc"] and "condition 'a' edited (seeds)" in later["preregistration"]["changed"]


def test_report_shows_corrected_p_power_failures_and_post_hoc_edits(tmp_path, tiny):
    from refute.report.markdown import write_report

    spec = two_conditions(tiny, [{"id": "small", **CMP, "min_effect": 0.05},
                                 {"id": "other", **CMP, "metric": "train_acc", "direction": "two-sided"}], seeds=3)
    path = write_yaml(tmp_path / "h.yaml", spec)
    results = tmp_path / "results"
    fake_runs(results, path, shifted(0.05), diverged={"b": {1: 75}})
    analyse_file(path, results)
    text = write_report("tiny", results).read_text()
    assert "| p adjusted (holm) |" in text and "Pre-registered: the plan was recorded" in text
    assert "**1 failed (diverged)** — set aside; the verdict is INVALID" in text
    assert "condition b, seed 1 diverged" in text

    spec["predictions"][0]["min_effect"] = 0.2
    write_yaml(path, spec)
    analyse_file(path, results)
    text = write_report("tiny", results).read_text()
    top = text.split("## Verdict")[0]
    assert "⚠️ **Post hoc.**" in top and "prediction 'small' edited (min_effect)" in top
    assert "(post hoc)" in text.split("\n## Verdict")[1].splitlines()[0]


def test_report_states_the_seeds_an_undecided_prediction_needs(tmp_path, tiny):
    from refute.report.markdown import write_report

    spec = two_conditions(tiny, [{"id": "p", **CMP, "min_effect": 0.1}], seeds=3)
    path = write_yaml(tmp_path / "h.yaml", spec)
    fake_runs(tmp_path / "results", path, lambda c, s, m, t: 0.5 + (0.05 if c == "a" else 0) + 0.2 * noise(c, s, m))
    assert analyse_file(path, tmp_path / "results")["verdict"] == "INCONCLUSIVE"
    text = write_report("tiny", tmp_path / "results").read_text()
    plan = preds(tmp_path / "results/tiny")["p"]["result"]["power"]
    assert f"80% power needs **{plan['seeds_for_80']}** seeds per condition" in text


def test_keeping_more_snapshots_is_not_an_edit_without_probes(tmp_path, tiny):
    spec = two_conditions(tiny, [{"id": "p", **CMP}])
    path = write_yaml(tmp_path / "h.yaml", spec)
    fake_runs(tmp_path / "results", path, shifted(0.3))
    analyse_file(path, tmp_path / "results")
    spec["train"]["snapshots"] = {"every": 50}  # e.g. to share runs with a probing hypothesis
    write_yaml(path, spec)
    fake_runs(tmp_path / "results", path, shifted(0.3))
    assert analyse_file(path, tmp_path / "results")["post_hoc"] is False


def test_provenance_names_the_commit_of_the_code_and_of_the_hypotheses(tmp_path, tiny):
    import subprocess

    from refute.report.markdown import write_report

    spec = two_conditions(tiny, [{"id": "p", **CMP}])
    project = tmp_path / "project"
    path = write_yaml(project / "hypotheses" / "h.yaml", spec)
    results = tmp_path / "results"
    fake_runs(results, path, shifted(0.3))
    # Not a repository (or no git at all): "unknown", and the analysis goes on.
    code = analyse_file(path, results)["provenance"]["code"]
    assert code["hypotheses"]["commit"] == "unknown" and code["hypotheses"]["dirty"] == "unknown"
    assert set(code) == {"refute", "hypotheses"}  # no components folder: none named
    assert "hypotheses: commit unknown" in write_report("tiny", results).read_text()

    (project / "components").mkdir()  # the project's own components, beside the hypotheses
    (project / "components" / "_helpers.py").write_text("X = 1\n")
    git = lambda *a: subprocess.run(["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t", *a],
                                    check=True, capture_output=True, text=True).stdout.strip()
    git("init", "-q")
    git("add", "hypotheses/h.yaml", "components")
    git("commit", "-qm", "h")
    head = git("rev-parse", "HEAD")
    code = analyse_file(path, results)["provenance"]["code"]
    assert code["hypotheses"] == {"folder": str((project / "hypotheses").resolve()), "commit": head, "dirty": "no"}
    assert code["components"]["commit"] == head and set(code) == {"refute", "hypotheses", "components"}
    spec["predictions"][0]["description"] = "edited, not committed"
    write_yaml(path, spec)
    assert analyse_file(path, results)["provenance"]["code"]["hypotheses"]["dirty"] == "yes"
    assert f"hypotheses: commit {head[:12]}, with uncommitted edits" in write_report("tiny", results).read_text()
