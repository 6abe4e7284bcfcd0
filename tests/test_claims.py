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


# --- ratios ----------------------------------------------------------------------------------------

g = np.random.default_rng(7)
STEPS = 1000 * np.exp(g.normal(0, 0.2, 10))          # clean labels: steps to fit
SLOW = 3 * 1000 * np.exp(g.normal(0, 0.2, 10))       # random labels: 3× the steps


def ratio(**kw):
    return pred(**{"kind": "compare", "conditions": ["random", "clean"], "scale": "ratio", **kw})


@pytest.mark.parametrize("test", ["welch", "mannwhitney", "paired_t", "wilcoxon"])
def test_a_planted_threefold_ratio_is_found_and_reported_as_a_ratio(test):
    p = ratio(test=test, direction="greater", min_ratio=2.0)
    r = run(p, {"random": SLOW, "clean": STEPS})
    assert 2.4 < r.estimate < 3.6 and r.ci[0] < 3.0 < r.ci[1]  # back-transformed: a ratio, not a log
    assert r.extra["log_ratio"] == pytest.approx(np.log(r.estimate))
    assert "ratio random / clean" in r.effect and "ln values" in r.test
    out = p.outcome(r, r.p, r.ci)
    assert out.status == HOLDS and "at least 2" in out.reason


def test_a_ratio_short_of_the_smallest_ratio_of_interest_is_contradicted():
    p = ratio(test="welch", direction="greater", min_ratio=5.0)
    out = status(p, {"random": SLOW, "clean": STEPS})
    assert out == CONTRADICTED


def test_the_ratio_test_is_the_difference_test_on_logs():
    r = run(ratio(test="welch", direction="greater"), {"random": SLOW, "clean": STEPS})
    d = run(pred(kind="compare", conditions=["random", "clean"], test="welch", direction="greater"),
            {"random": np.log(SLOW), "clean": np.log(STEPS)})
    assert r.p == pytest.approx(d.p) and r.estimate == pytest.approx(np.exp(d.estimate))


def test_a_ratio_of_non_positive_values_is_undecided_with_the_reason():
    r = run(ratio(test="welch", direction="greater"), {"random": SLOW, "clean": np.r_[STEPS[:-1], 0.0]})
    assert np.isnan(r.p) and "positive" in r.notes[0]


@pytest.mark.parametrize("bad, message", [
    ({"min_effect": 1.0}, "min_ratio"),
    ({"scale": "difference", "min_ratio": 2.0}, "scale: ratio"),
    ({"min_ratio": 0.5}, "greater than or equal to 1"),
])
def test_ratio_parameters_are_checked(bad, message):
    with pytest.raises(ValidationError, match=message):
        ratio(test="welch", direction="greater", **bad)


def test_equivalence_on_the_ratio_scale():
    same = {"a": 1000 * np.exp(g.normal(0, 0.05, 12)), "b": 1000 * np.exp(g.normal(0, 0.05, 12))}
    p = pred(kind="equivalence", conditions=["a", "b"], scale="ratio", margin=0.1)
    r = run(p, same)
    assert 0.95 < r.estimate < 1.05 and r.extra["margin"] == 0.1
    assert status(p, same) == HOLDS
    assert status(p, {"a": same["a"] * 3, "b": same["b"]}) == CONTRADICTED


# --- equivalence of two conditions, relative margin ------------------------------------------------

@pytest.mark.parametrize("test", ["t", "paired_t"])
def test_relative_equivalence_of_two_conditions(test):
    b = 200 + g.normal(0, 4, 12)
    p = pred(kind="equivalence", conditions=["a", "b"], relative=True, margin=0.1, test=test)
    same = {"a": b * 1.02 + g.normal(0, 2, 12), "b": b}
    r = run(p, same)
    assert r.estimate == pytest.approx(same["a"].mean() / b.mean() - 1)
    assert r.ci[0] < r.estimate < r.ci[1] and r.ci[1] - r.ci[0] < 0.1
    assert status(p, same) == HOLDS
    assert status(p, {"a": b * 1.3, "b": b}) == CONTRADICTED


def test_relative_equivalence_matches_a_tost_on_b_scaled_values_when_b_is_known():
    # With b constant the test of a − θ·b is a one-sample t-test of a against θ·b.
    from statsmodels.stats.weightstats import DescrStatsW

    a = 100 + g.normal(0, 3, 10)
    r = run(pred(kind="equivalence", conditions=["a", "b"], relative=True, margin=0.05, test="paired_t"),
            {"a": a, "b": np.r_[np.full(9, 100.0), 100.0 + 1e-9]})
    assert r.p == pytest.approx(DescrStatsW(a).ttost_mean(95.0, 105.0)[0], rel=1e-3)


@pytest.mark.parametrize("bad, message", [
    ({"conditions": ["a", "b"], "relative": True, "margin": 1.5}, "0 < margin < 1"),
    ({"conditions": ["a", "b"], "relative": True, "scale": "ratio", "margin": 0.1}, "scale: ratio"),
    ({"conditions": ["a"], "value": 1.0, "scale": "ratio", "margin": 0.1}, "scale: ratio"),
])
def test_relative_and_ratio_equivalence_reject_ill_posed_claims(bad, message):
    with pytest.raises(ValidationError, match=message):
        pred(kind="equivalence", **bad)


# --- optimum across a sweep ------------------------------------------------------------------------

from refute.components.predictions.optimum import Optimum, best  # noqa: E402


def test_the_optimum_is_the_grid_point_or_the_parabola_vertex():
    x = np.array([0.001, 0.01, 0.1, 1.0])
    y = (np.log10(x) - np.log10(0.02)) ** 2  # a parabola in log x with its minimum at 0.02
    grid = Optimum(of="val_loss", at="min", over="train.lr")
    assert best(grid, x, y) == (0.01, False)
    assert best(grid.model_copy(update={"interpolate": "log_parabola"}), x, y)[0] == pytest.approx(0.02)
    assert best(Optimum(of="acc", at="max", over="train.lr"), x, -y) == (0.01, False)
    assert best(grid, x, -y) == (1.0, True)  # at the edge of the sweep: only a bound
    assert np.isnan(best(grid, x[:1], y[:1])[0])


@pytest.fixture
def width_lr_sweep(tiny):
    tiny["seeds"] = 6
    tiny["sweep"] = {"model.params.width": [16, 32, 64, 128], "train.lr": [0.001, 0.003, 0.01, 0.03, 0.1]}
    return tiny


def planted_optimum(c, s, m, t):
    """val_loss is a bowl in log lr whose bottom is at lr* = 0.32 / width (seed jitter ≈ 5%)."""
    from test_analyse import noise

    width = int(c.split("_")[0].split("=")[1])
    lr = float(c.split("_")[1].split("=")[1])
    best_lr = 0.32 / width * np.exp(0.05 * noise(f"w{width}", s, "opt"))
    return 1.0 + (np.log10(lr) - np.log10(best_lr)) ** 2 + 0.001 * noise(c, s, m)


def test_a_planted_argmin_scales_as_width_to_the_minus_one(tmp_path, width_lr_sweep):
    import json

    from conftest import analyse_file, write_yaml
    from test_analyse import fake_runs

    opt = {"of": "val_loss", "at": "min", "over": "train.lr", "interpolate": "log_parabola"}
    width_lr_sweep["predictions"] = [
        {"id": "lr-scales", "kind": "power_law", "metric": opt, "reduce": "final",
         "x": {"param": "model.params.width"}, "exponent": {"low": -1.2, "high": -0.8}},
        {"id": "wide-smaller", "kind": "compare", "conditions": ["width=128", "width=16"], "metric": opt,
         "reduce": "final", "test": "paired_t", "scale": "ratio", "direction": "less", "min_ratio": 4.0},
    ]
    path = write_yaml(tmp_path / "h.yaml", width_lr_sweep)
    fake_runs(tmp_path / "results", path, planted_optimum)
    verdict = analyse_file(path, tmp_path / "results")
    assert verdict["verdict"] == "SUPPORTED", verdict["reasons"]
    preds = {p["id"]: p for p in json.loads((tmp_path / "results/tiny/predictions.json").read_text())}
    law = preds["lr-scales"]
    assert law["result"]["n"] == {"points": 24, "seeds": 6, "levels": 4}
    assert law["result"]["estimate"] == pytest.approx(-1.0, abs=0.05)
    assert len(law["conditions"]) == 20  # every run of the sweep was read
    assert preds["wide-smaller"]["result"]["estimate"] == pytest.approx(16 / 128, rel=0.1)
    reduced = pd.read_parquet(tmp_path / "results/tiny/reduced.parquet")
    rows = reduced[reduced.prediction == "lr-scales"]
    assert set(rows.condition) == {"width=16", "width=32", "width=64", "width=128"}
    at16 = rows[rows.condition == "width=16"].value
    assert at16.between(0.016, 0.024).all()  # interpolated between the grid points 0.01 and 0.03

    from refute.report.markdown import write_report
    assert "at which `val_loss` is lowest" in write_report("tiny", tmp_path / "results").read_text()


def test_an_optimum_at_the_edge_of_the_sweep_is_noted(tmp_path, width_lr_sweep):
    import json

    from conftest import analyse_file, write_yaml
    from test_analyse import fake_runs

    width_lr_sweep["predictions"] = [
        {"id": "lr-falls", "kind": "trend", "metric": {"of": "val_loss", "at": "max", "over": "train.lr"},
         "reduce": "final", "x": {"param": "model.params.width"}, "direction": "less", "test": "spearman"}]
    path = write_yaml(tmp_path / "h.yaml", width_lr_sweep)
    fake_runs(tmp_path / "results", path, planted_optimum)  # the maximum of a bowl is at an edge
    analyse_file(path, tmp_path / "results")
    [p] = json.loads((tmp_path / "results/tiny/predictions.json").read_text())
    assert any("lie at an edge of the swept train.lr" in n for n in p["result"]["notes"])


def optimum_errors(tmp_path, tiny, **changes):
    from conftest import write_yaml
    from test_stats_spec import errors_of

    tiny["sweep"] = {"model.params.width": [16, 32], "train.lr": [0.001, 0.01]}
    p = {"id": "o", "kind": "trend", "reduce": "final", "x": {"param": "model.params.width"},
         "direction": "less", "metric": {"of": "val_loss", "at": "min", "over": "train.lr"}}
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(p.get(k), dict):
            p[k] = {**p[k], **v}
        else:
            p[k] = v
    tiny["predictions"] = [p]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    return path, errors_of(path)


@pytest.mark.parametrize("change, field, message", [
    ({"metric": {"over": "train.weight_decay"}}, "predictions.0.metric.over", "has 1 value(s) of train.weight_decay"),
    ({"metric": {"over": "train.nope"}}, "predictions.0.metric.over", "no field 'train.nope'"),
    ({"metric": {"interpolate": "parabola"}}, "predictions.0.metric.over", "needs at least 3"),
    ({"metric": {"of": "sharpness"}}, "predictions.0.metric.of", "'sharpness' is never logged"),
    ({"metric": {"at": "best"}}, "predictions.0.metric", "min"),
    ({"x": {"param": "train.lr"}}, "predictions.0.x.param", "the field the optimum is taken over"),
    ({"divide_by": {"param": "train.lr"}}, "predictions.0.divide_by", "cannot be divided"),
])
def test_a_bad_optimum_is_named_with_file_line_and_field(tmp_path, tiny, change, field, message):
    path, errs = optimum_errors(tmp_path, tiny, **change)
    assert any(f": {field}" in e and message in e for e in errs), errs
    assert all(e.startswith(f"{path}:") and e.split(":")[1].isdigit() and int(e.split(":")[1]) > 0 for e in errs)


def test_an_optimum_names_its_groups_as_conditions(tmp_path, tiny):
    from conftest import write_yaml
    from refute.spec.loader import load_hypothesis
    from test_stats_spec import errors_of

    tiny["sweep"] = {"model.params.width": [16, 32], "train.lr": [0.001, 0.01]}
    tiny["predictions"] = [{"id": "o", "kind": "compare", "conditions": ["width=32", "width=16"], "reduce": "final",
                            "metric": {"of": "val_loss", "at": "min", "over": "train.lr"}, "direction": "less"}]
    load_hypothesis(write_yaml(tmp_path / "h.yaml", tiny))
    tiny["predictions"][0]["conditions"] = ["width=32_lr=0.01", "width=16"]
    [err] = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert "unknown condition 'width=32_lr=0.01'; defined: width=16, width=32" in err


# --- representations across seeds and layers -------------------------------------------------------

SITES = ["embed", "hidden.0", "logits"]


def planted_layers(seeds: int, swap_in_seed: int | None = None, n: int = 300, width: int = 8):
    """Activations where site k of every seed is its own rotation of one shared representation per site (and
    sites are unrelated to each other): layer i of one network matches layer i of any other. In
    `swap_in_seed`, the last two sites trade places."""
    import torch

    g = torch.Generator().manual_seed(0)
    shared = {s: torch.randn(n, width, generator=g, dtype=torch.float64) for s in SITES}
    acts = {s: [] for s in SITES}
    for seed in range(seeds):
        for s in SITES:
            q, _ = torch.linalg.qr(torch.randn(width, width, generator=g, dtype=torch.float64))
            acts[s].append(shared[s] @ q + 0.1 * torch.randn(n, width, generator=g, dtype=torch.float64))
    if swap_in_seed is not None:
        acts["hidden.0"][swap_in_seed], acts["logits"][swap_in_seed] = \
            acts["logits"][swap_in_seed], acts["hidden.0"][swap_in_seed]
    return {s: torch.stack(v) for s, v in acts.items()}


def test_layer_i_of_one_seed_matches_layer_i_of_another_on_disjoint_pairs():
    from refute.components.probes.cka import pair_table

    frame = pair_table(list(range(5)), planted_layers(5)).frame(100)
    summary = frame[frame.unit == ""].pivot_table(index="seed", columns=["metric", "site"], values="value",
                                                  dropna=False)
    firsts = [0, 2]  # pairs (0, 1), (2, 3); seed 4 has no partner
    assert summary.loc[firsts, ("cka", "hidden.0")].gt(0.95).all()
    assert summary.loc[firsts, ("min_margin", "")].gt(0.5).all()
    assert (summary.loc[firsts, ("matched_fraction", "")] == 1.0).all()
    assert summary.loc[[1, 3, 4]].isna().all().all()  # partners and the odd seed carry no value of their own
    full = frame[(frame.metric == "cka_to") & (frame.seed == 0)].set_index(["site", "unit"]).value
    assert full[("hidden.0", "1")] > 0.95 and full[("hidden.0", "2")] < 0.2


def test_a_layer_matched_to_another_layer_has_a_negative_margin():
    from refute.components.probes.cka import pair_table

    frame = pair_table(list(range(4)), planted_layers(4, swap_in_seed=1)).frame(0)
    at = frame[(frame.unit == "") & (frame.seed == 0)].set_index(["metric", "site"]).value
    assert at[("margin", "embed")] > 0.5
    assert at[("margin", "hidden.0")] < -0.5 and at[("margin", "logits")] < -0.5
    assert at[("matched_fraction", "")] == pytest.approx(1 / 3)
    intact = frame[(frame.unit == "") & (frame.seed == 2)].set_index(["metric", "site"]).value
    assert intact[("matched_fraction", "")] == 1.0  # the other pair is untouched


def test_layer_matching_is_tested_on_one_value_per_disjoint_pair(tmp_path, tiny):
    import json

    from conftest import analyse_file, write_yaml
    from refute import io
    from refute.components.probes.cka import pair_table
    from refute.layout import Layout
    from test_analyse import fake_runs, noise

    tiny["seeds"] = 9
    tiny["probes"] = [{"name": "cka", "id": "layers", "between": "seed_pairs", "sites": SITES}]
    tiny["predictions"] = [{"id": "layer-matches-layer", "kind": "threshold", "condition": "default",
                            "metric": "layers/min_margin", "reduce": "final", "threshold": 0.0, "direction": "greater"}]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    hyp = fake_runs(tmp_path / "results", path, lambda c, s, m, t: 1 + 0.1 * noise(c, s, m))
    [job] = hyp.probe_jobs
    folder = Layout(tmp_path / "results").probe_dir(job.hash)
    io.write_parquet(folder / "values.parquet", pair_table(list(range(9)), planted_layers(9)).frame(150))
    io.write_json(folder / "probe.json", {"probe": "cka", "run": job.run})
    verdict = analyse_file(path, tmp_path / "results")
    assert verdict["verdict"] == "SUPPORTED", verdict["reasons"]
    [p] = json.loads((tmp_path / "results/tiny/predictions.json").read_text())
    assert p["result"]["n"] == {"default": 4}  # 9 seeds: 4 disjoint pairs, seed 8 left out
    assert p["result"]["counts"]["runs"] == 4 and p["result"]["counts"]["no_value"] == 0
    [note] = [n for n in p["result"]["notes"] if "disjoint seed pairs" in n]
    assert "(0, 1), (2, 3), (4, 5), (6, 7)" in note and "seed 8 has no partner" in note


@pytest.mark.parametrize("probe, expected", [
    ({"between": "seed_pairs", "site": "hidden.0"}, "give sites (at least two), not site"),
    ({"between": "seed_pairs", "sites": ["hidden.0"]}, "probes.0.sites: list should have at least 2 items"),
    ({"between": "seed_pairs", "sites": ["hidden.0", "hiden.1"]}, "probes.0.sites: model 'mlp' has no site 'hiden.1'"),
    ({"between": "seeds"}, "between: seeds needs site"),
    ({"site": "hidden.0", "sites": ["embed", "logits"]}, "sites: is read only with between: seed_pairs"),
])
def test_bad_seed_pair_probes_are_named_with_file_line_and_field(tmp_path, tiny, probe, expected):
    from conftest import write_yaml
    from test_stats_spec import errors_of

    tiny["probes"] = [{"name": "cka", **probe}]
    path = write_yaml(tmp_path / "h.yaml", tiny)
    errs = errors_of(path)
    assert any(expected in e for e in errs), errs
    assert all(e.startswith(f"{path}:") and int(e.split(":")[1]) > 0 for e in errs)


def test_a_seed_pair_probe_needs_two_seeds(tmp_path, tiny):
    from conftest import write_yaml
    from test_stats_spec import errors_of

    tiny["seeds"] = 1
    tiny["probes"] = [{"name": "cka", "between": "seed_pairs", "sites": ["embed", "hidden.0"]}]
    [err] = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert "between: seed_pairs needs at least two seeds" in err


def test_the_seed_pair_probe_runs_on_a_real_model_and_leaves_no_hook_behind():
    from refute.components.certificates import is_companion
    from test_probes import compute, context, run_spec

    ctx = context(run_spec(seeds=[3, 5, 8]))
    frame = compute(ctx, name="cka", between="seed_pairs", sites=["embed", "hidden.0", "logits"])
    assert ctx.model.site_hooks() == {}
    first = frame[(frame.seed == 3) & (frame.unit == "") & ~frame.metric.map(is_companion)]  # not certificates
    assert first.value.notna().all() and len(first) == 3 * 2 + 2
    assert frame[frame.seed != 3].value.isna().all()  # 5 is 3's partner; 8 has none


def test_the_readme_examples_of_these_claims_validate():
    import yaml

    from conftest import ROOT
    from refute.components.probes import ProbeSpec

    section = (ROOT / "README.md").read_text().split("### Claims across conditions, seeds and layers")[1]
    blocks = [b.split("```")[0] for b in section.split("## The loop")[0].split("```yaml\n")[1:]]
    assert len(blocks) == 5
    for block in blocks:
        data = yaml.safe_load(block)
        entries = data if isinstance(data, list) else data["predictions"]
        for entry in entries:
            TypeAdapter(PredictionSpec).validate_python(entry)
        for probe in (data.get("probes", []) if isinstance(data, dict) else []):
            TypeAdapter(ProbeSpec).validate_python(probe)
