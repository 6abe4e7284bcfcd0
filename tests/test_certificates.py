"""Health certificates: each costly estimator says when its value cannot be trusted, and a prediction that
would be decided on such a value is undecided with the reason."""

import numpy as np
import pytest
import torch

from refute.components import hessian
from refute.components.certificates import CKA_BIAS_GAP, LANCZOS_RESIDUAL, certificate_of, companion, is_companion

from test_observables import quadratic


def test_companions_sit_beside_their_metric_and_before_a_probe_site():
    assert certificate_of("sharpness") == "sharpness.certified"
    assert companion("lp/accuracy@hidden.0", "iterations") == "lp/accuracy.iterations@hidden.0"
    assert certificate_of("cka/min_margin") == "cka/min_margin.certified"
    assert is_companion("lp/accuracy.certified@hidden.0") and is_companion("sharpness.residual")
    assert not is_companion("sharpness") and not is_companion("lp/accuracy@hidden.0")


def test_lanczos_residual_is_the_true_residual_of_its_ritz_pair_and_certifies_a_separated_top():
    # A top eigenvalue well apart from the rest: 20 Lanczos steps find it to machine precision.
    eig = [torch.cat([torch.tensor([10.0]), torch.linspace(0.0, 2.0, 199)]).double()]
    loss, x = quadratic(eig)
    top, residual = hessian.top_eigenpair(hessian.hvp_fn(loss, [x]), hessian.start_vector([x], [0]), iters=20)
    assert float(top[0]) == pytest.approx(10.0, rel=1e-8)
    assert float(residual[0]) < 1e-6 < LANCZOS_RESIDUAL


def test_too_few_lanczos_steps_on_an_ill_conditioned_hessian_fail_the_certificate():
    # No gap below the top eigenvalue (1.0, then 0.995, 0.990, …): 4 Krylov steps stop well short of it.
    eig = [torch.linspace(0.0, 1.0, 200).double()]
    loss, x = quadratic(eig)
    hvp = hessian.hvp_fn(loss, [x])
    top, residual = hessian.top_eigenpair(hvp, hessian.start_vector([x], [0]), iters=4)
    assert 1.0 - float(top[0]) > LANCZOS_RESIDUAL  # the value is off by more than the tolerance …
    assert float(residual[0]) > LANCZOS_RESIDUAL  # … and its certificate says so
    top, residual = hessian.top_eigenpair(hvp, hessian.start_vector([x], [0]), iters=20)
    assert 1.0 - float(top[0]) < float(residual[0]) < LANCZOS_RESIDUAL  # enough steps: certified, and as close


def test_the_sharpness_observable_logs_its_certificate_beside_each_value():
    from test_observables import compute, tiny

    net, data = tiny(mp={"width": 16, "depth": 2, "activation": "tanh"}, tp={"d_in": 8, "n_train": 64}, seeds=(0, 1, 2))
    few = compute("sharpness", net, data, seeds=(0, 1, 2), iters=3)
    enough = compute("sharpness", net, data, seeds=(0, 1, 2), iters=30)
    # 3 Krylov steps land below the top eigenvalue (seed 0 by 36%), and say so; 30 find it, and say that.
    assert (few["sharpness"] < enough["sharpness"] - 0.05).all()
    assert (few["sharpness.residual"] > LANCZOS_RESIDUAL).all() and (few["sharpness.certified"] == 0).all()
    assert (enough["sharpness.certified"] == 1).all() and (enough["stability_ratio.certified"] == 1).all()


def test_power_iteration_reports_its_residual_too():
    eig = [torch.cat([torch.tensor([3.0]), torch.linspace(0.0, 2.9, 99)]).double()]
    loss, x = quadratic(eig)
    hvp = hessian.hvp_fn(loss, [x])
    _, few = hessian.top_eigenpair(hvp, hessian.start_vector([x], [0]), iters=5, method="power")
    _, many = hessian.top_eigenpair(hvp, hessian.start_vector([x], [0]), iters=2000, method="power")
    assert float(few[0]) > LANCZOS_RESIDUAL > float(many[0])


# --- the statistics stage: a failed certificate leaves the prediction undecided, with the reason ------------

import json  # noqa: E402

import pandas as pd  # noqa: E402

from conftest import analyse_file, write_yaml  # noqa: E402
from refute import io  # noqa: E402
from refute.layout import Layout  # noqa: E402
from test_analyse import fake_runs, noise  # noqa: E402


def with_certificates(results, hyp, metric, failing: dict[int, list[int]], diagnostic="residual"):
    """Add `metric.certified` (and a diagnostic) beside every logged `metric`: 0 at the given seeds' steps."""
    for cond, h in hyp.runs.items():
        path = results / "runs" / h / "metrics.parquet"
        m = pd.read_parquet(path)
        logged = m[m.metric == metric]
        bad = [step in failing.get(int(seed), []) for seed, step in zip(logged.seed, logged.step)]
        cert = logged.assign(metric=f"{metric}.certified", value=[0.0 if b else 1.0 for b in bad])
        diag = logged.assign(metric=f"{metric}.{diagnostic}", value=[0.31 if b else 1e-6 for b in bad])
        io.write_parquet(path, pd.concat([m, cert, diag], ignore_index=True))


def loss_below(tmp_path, tiny, reduce="final"):
    tiny["seeds"] = 6
    tiny["predictions"] = [{"id": "low-loss", "kind": "threshold", "condition": "default", "metric": "val_loss",
                            "reduce": reduce, "threshold": 1.0, "direction": "less"}]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    hyp = fake_runs(tmp_path / "results", path, lambda c, s, m, t: 0.5 + 0.05 * noise(c, s, m))
    return path, hyp


def prediction(tmp_path, verdict):
    [p] = json.loads((tmp_path / "results/tiny/predictions.json").read_text())
    return p


def test_a_healthy_certificate_decides_as_before(tmp_path, tiny):
    path, hyp = loss_below(tmp_path, tiny)
    before = analyse_file(path, tmp_path / "results")
    p_before = prediction(tmp_path, before)
    with_certificates(tmp_path / "results", hyp, "val_loss", {})
    after = analyse_file(path, tmp_path / "results")
    p_after = prediction(tmp_path, after)
    assert before["verdict"] == after["verdict"] == "SUPPORTED"
    assert p_after["result"]["p"] == p_before["result"]["p"] and p_after["result"]["counts"]["uncertified"] == 0
    reduced = pd.read_parquet(tmp_path / "results/tiny/reduced.parquet")
    assert reduced.certified.all()


def test_a_value_whose_certificate_failed_leaves_the_prediction_undecided_with_the_reason(tmp_path, tiny):
    path, hyp = loss_below(tmp_path, tiny)
    with_certificates(tmp_path / "results", hyp, "val_loss", {2: [100]})  # seed 2's final evaluation
    verdict = analyse_file(path, tmp_path / "results")
    p = prediction(tmp_path, verdict)
    assert verdict["verdict"] == "INCONCLUSIVE"
    assert p["outcome"]["status"] == "inconclusive" and p["result"]["counts"]["uncertified"] == 1
    reason = p["outcome"]["reason"]
    assert "1 of 6 tested values failed their estimator's health certificate" in reason
    assert "seed 2 at step 100" in reason and "val_loss.residual = 0.31" in reason
    assert "the test alone: holds" in reason  # what the bad number would have decided, for the record
    assert "health certificate" in verdict["reasons"][0]
    reduced = pd.read_parquet(tmp_path / "results/tiny/reduced.parquet")
    assert reduced.set_index("seed").certified.to_dict() == {s: s != 2 for s in range(6)}


def test_only_the_evaluations_a_reduction_reads_need_their_certificates(tmp_path, tiny):
    # An early evaluation failed: `mean_last` (the last 5) never reads it; `auc` reads every evaluation.
    path, hyp = loss_below(tmp_path, tiny, reduce={"name": "mean_last", "k": 5})
    with_certificates(tmp_path / "results", hyp, "val_loss", {2: [10]})
    assert analyse_file(path, tmp_path / "results")["verdict"] == "SUPPORTED"
    data = yaml_of(path)
    data["predictions"][0]["reduce"] = "auc"
    write_yaml(path, data)
    assert analyse_file(path, tmp_path / "results")["verdict"] == "INCONCLUSIVE"


def yaml_of(path):
    import yaml

    return yaml.safe_load(path.read_text())


def probe_prediction(tmp_path, tiny, probe: dict, metric: str, threshold: float, frame_of):
    """Analyse a threshold prediction (greater) on a probe output whose table is `frame_of(run)`, after a real
    probe computed it on the hypothesis's (untrained) model."""
    tiny["seeds"] = 6
    tiny["probes"] = [probe]
    tiny["predictions"] = [{"id": "probed", "kind": "threshold", "condition": "default", "metric": metric,
                            "reduce": "final", "threshold": threshold, "direction": "greater"}]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    hyp = fake_runs(tmp_path / "results", path, lambda c, s, m, t: 1 + 0.1 * noise(c, s, m))
    [job] = hyp.probe_jobs
    folder = Layout(tmp_path / "results").probe_dir(job.hash)
    frame = frame_of(hyp.conditions["default"])
    io.write_parquet(folder / "values.parquet", frame)
    io.write_json(folder / "probe.json", {"probe": probe["name"], "run": job.run})
    verdict = analyse_file(path, tmp_path / "results")
    return verdict, prediction(tmp_path, verdict), frame


def real_probe(**spec):
    from test_probes import compute, context

    return lambda run: compute(context(run), **spec)


def test_a_linear_probe_that_hits_max_iter_leaves_its_prediction_undecided(tmp_path, tiny):
    spec = {"name": "linear_probe", "id": "lp", "site": "hidden.0", "target": "label", "max_iter": 1}
    verdict, p, frame = probe_prediction(tmp_path, tiny, spec, "lp/accuracy@hidden.0", 0.0, real_probe(**spec))
    assert (frame[frame.metric == "accuracy.certified"].value == 0).all()
    assert (frame[frame.metric == "accuracy.iterations"].value == 1).all()
    assert p["outcome"]["status"] == "inconclusive" and p["result"]["counts"]["uncertified"] == 6
    assert "health certificate" in p["outcome"]["reason"] and "lp/accuracy.iterations@hidden.0 = 1" in p["outcome"]["reason"]


def test_a_converged_linear_probe_decides_as_before(tmp_path, tiny):
    # The untrained probe's accuracies are 0 or 1/60, half of them exactly at 0: against a threshold of 0
    # those lie on it and decide nothing, so the claim is "above −0.01", which all six runs are.
    spec = {"name": "linear_probe", "id": "lp", "site": "hidden.0", "target": "label"}
    verdict, p, frame = probe_prediction(tmp_path, tiny, spec, "lp/accuracy@hidden.0", -0.01, real_probe(**spec))
    assert (frame[frame.metric == "accuracy.certified"].value == 1).all()
    assert frame[frame.metric == "selectivity.control_gap"].value.notna().all()
    assert p["outcome"]["status"] == "holds" and p["result"]["counts"]["uncertified"] == 0


def test_cka_at_a_tiny_sample_size_fails_its_certificate_and_leaves_the_prediction_undecided(tmp_path, tiny):
    # 12 examples of 32 hidden units: the biased CKA of any two seeds is pulled towards 1.
    spec = {"name": "cka", "id": "sim", "site": "hidden.0", "between": "seeds", "max_examples": 12}
    verdict, p, frame = probe_prediction(tmp_path, tiny, spec, "sim/cka@hidden.0", 0.0, real_probe(**spec))
    gaps = frame[frame.metric == "cka.bias_gap"].value.dropna()
    assert len(gaps) == 3 and (gaps > CKA_BIAS_GAP).all()
    assert p["outcome"]["status"] == "inconclusive" and "sim/cka.bias_gap@hidden.0" in p["outcome"]["reason"]


def test_cka_on_enough_examples_is_certified_and_decides(tmp_path, tiny):
    # TINY's task has 121 examples (a gap near 0.08 on its validation half): these values come from a task
    # with 2,000 validation examples instead, on the same seeds.
    from test_probes import compute, context, run_spec

    spec = {"name": "cka", "id": "sim", "site": "hidden.0", "between": "seeds"}
    task = {"name": "planted_feature", "params": {"n_features": 16, "planted": [5], "n_train": 2000, "n_val": 2000}}
    big = context(run_spec(task=task, model={"name": "mlp", "params": {"width": 16}}, seeds=range(6)))
    verdict, p, frame = probe_prediction(tmp_path, tiny, spec, "sim/cka@hidden.0", 0.0,
                                         lambda run: compute(big, **spec))
    assert (frame[frame.metric == "cka.certified"].value.dropna() == 1).all()
    assert p["outcome"]["status"] == "holds" and p["result"]["counts"]["uncertified"] == 0


def test_debiased_cka_removes_the_small_sample_bias_of_unrelated_representations():
    from refute.components.probes.cka import debiased_cka, linear_cka

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 50, 64, generator=g, dtype=torch.float64)
    assert linear_cka(x, y).item() > 0.5  # the known answer is 0
    assert abs(debiased_cka(x, y).item()) < 0.05
    q, _ = torch.linalg.qr(torch.randn(64, 64, generator=g, dtype=torch.float64))
    assert debiased_cka(x, x @ q).item() == pytest.approx(1.0, abs=1e-9)
