"""Each prediction's figure shows exactly what its test read and decided: the values per run of the conditions
its record says it read (or along its x axis, with the fitted line), the threshold or margin, and the effect
with its CI beside the region where the prediction holds. Figures sit in a grid; learning curves zoom where
an early crossing happens."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, plan_of, prediction_records, verdict_record
from refute.report.prediction_figures import claim_of, draw


def by_gid(fig, gid):
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def record(prediction: dict, conditions: dict | None = None, **result):
    data = {**TINY, "predictions": [{"id": "p", **prediction}]}
    if conditions:
        data["conditions"] = conditions
    plan = plan_of(data)
    return plan, prediction_records(plan, {"p": "holds"}, **result)[0]


def rows(values: dict[str, list[float]], x: dict[str, float] | None = None, metric="train_acc", **flags):
    """reduced.parquet's rows for prediction p: values per condition, one per seed."""
    out = []
    for cond, vs in values.items():
        for seed, v in enumerate(vs):
            out.append({"prediction": "p", "condition": cond, "seed": seed, "metric": metric, "role": "y",
                        "x": (x or {}).get(cond, math.nan), "value": v, "censored": flags.get("censored", False),
                        "failed": False, "used": True})
    return pd.DataFrame(out)


def test_a_threshold_prediction_draws_each_run_the_threshold_and_its_effect_beside_the_region_it_holds_in():
    _, pred = record({"kind": "threshold", "condition": "default", "metric": "train_acc", "reduce": "final",
                      "threshold": 0.5, "direction": "greater", "min_effect": 0.1},
                     estimate=0.42, ci=(0.3, 0.55), ci_judged=(0.3, 0.55))
    fig = draw(pred, rows({"default": [0.9, 0.95, 0.88]}))
    (dots,) = by_gid(fig, "runs:default")
    assert sorted(dots.get_offsets()[:, 1]) == [0.88, 0.9, 0.95]  # one dot per run, at its value
    (line,) = by_gid(fig, "threshold")
    assert list(line.get_ydata()) == [0.5, 0.5]
    (ci,) = by_gid(fig, "ci")
    assert np.allclose(ci.get_segments()[0][:, 0], [0.3, 0.55])
    (region,) = by_gid(fig, "claim")  # holds beyond δ = 0.1, on the right
    assert math.isclose(region.get_x(), 0.1) and region.get_x() + region.get_width() >= 0.55
    assert not by_gid(fig, "ci-judged")  # one prediction: judged on the CI it reports


def test_a_comparison_shows_the_two_conditions_its_record_names_in_its_order():
    conditions = {"wd1": {"train.weight_decay": 1.0}, "wd0": {"train.weight_decay": 0.0},
                  "other": {"train.lr": 0.02}}
    _, pred = record({"kind": "compare", "conditions": ["wd1", "wd0"], "metric": "val_acc", "reduce": "final",
                      "direction": "greater"}, conditions, estimate=0.5, ci=(0.4, 0.6), ci_judged=(0.35, 0.65),
                     ci_judged_level=0.975)
    assert pred.conditions == ["wd1", "wd0"]
    fig = draw(pred, rows({"wd0": [0.2, 0.3], "wd1": [0.9, 0.8]}))
    values = fig.axes[0]
    assert [t.get_text().split("\n")[0] for t in values.get_xticklabels()] == ["wd1", "wd0"]
    assert by_gid(fig, "runs:wd1") and by_gid(fig, "runs:wd0") and not by_gid(fig, "runs:other")
    (judged,) = by_gid(fig, "ci-judged")  # widened for the number of predictions: drawn too
    assert np.allclose(judged.get_segments()[0][:, 0], [0.35, 0.65])


def test_a_trend_draws_the_values_along_x_and_the_fitted_slope():
    conditions = {f"lr-{i}": {"train.lr": v} for i, v in enumerate((0.01, 0.02, 0.03))}
    _, pred = record({"kind": "trend", "x": {"param": "train.lr"}, "metric": "train_loss", "reduce": "final",
                      "direction": "less", "test": "ols"}, conditions, test="OLS slope", estimate=-10.0,
                     ci=(-12.0, -8.0), ci_judged=(-12.0, -8.0))
    x = {"lr-0": 0.01, "lr-1": 0.02, "lr-2": 0.03}
    fig = draw(pred, rows({"lr-0": [0.5, 0.52], "lr-1": [0.4, 0.41], "lr-2": [0.3, 0.31]}, x))
    (dots,) = by_gid(fig, "runs")
    assert len(dots.get_offsets()) == 6
    (fit,) = by_gid(fig, "fit")
    fx, fy = fit.get_xdata(), fit.get_ydata()
    assert math.isclose((fy[-1] - fy[0]) / (fx[-1] - fx[0]), -10.0)  # the test's slope
    assert math.isclose(np.interp(0.02, fx, fy), np.mean([0.5, 0.52, 0.4, 0.41, 0.3, 0.31]))  # through the centre
    assert fig.axes[0].get_xlabel() == "train.lr"


def test_a_power_law_draws_its_law_on_log_axes_and_the_exponent_range():
    conditions = {f"w{v}": {"model.params.width": v} for v in (8, 16, 32)}
    _, pred = record({"kind": "power_law", "x": {"param": "model.params.width"}, "metric": "train_loss",
                      "reduce": "final", "exponent": {"low": -1.5, "high": -0.5}}, conditions,
                     test="OLS slope, log–log; two one-sided tests", estimate=-1.0, ci=(-1.2, -0.8),
                     ci_judged=(-1.2, -0.8), effect="exponent b in value ∝ x^b (log–log slope)")
    x = {"w8": 8.0, "w16": 16.0, "w32": 32.0}
    fig = draw(pred, rows({"w8": [1 / 8, 1.1 / 8], "w16": [1 / 16, 1.1 / 16], "w32": [1 / 32, 1.1 / 32]}, x))
    values = fig.axes[0]
    assert values.get_xscale() == "log" and values.get_yscale() == "log"
    (fit,) = by_gid(fig, "fit")
    fx, fy = np.log(fit.get_xdata()), np.log(fit.get_ydata())
    assert math.isclose((fy[-1] - fy[0]) / (fx[-1] - fx[0]), -1.0)
    assert claim_of(pred.spec).spans == [(-1.5, -0.5)] and claim_of(pred.spec).null is None


@pytest.mark.parametrize("prediction, null, spans", [
    ({"kind": "equivalence", "conditions": ["default"], "value": 0.9, "margin": 0.05}, 0.0, [(-0.05, 0.05)]),
    ({"kind": "threshold", "condition": "default", "threshold": 1, "direction": "less", "min_effect": 0.2},
     0.0, [(-math.inf, -0.2)]),
    ({"kind": "threshold", "condition": "default", "threshold": 1, "direction": "two-sided"}, 0.0, []),
])
def test_the_region_where_a_prediction_holds_is_its_own(prediction, null, spans):
    _, pred = record({"metric": "train_acc", "reduce": "final", **prediction})
    assert claim_of(pred.spec).null == null and claim_of(pred.spec).spans == spans


def test_an_equivalence_to_a_value_draws_the_value_and_its_margin_around_the_runs():
    _, pred = record({"kind": "equivalence", "conditions": ["default"], "metric": "train_acc", "reduce": "final",
                      "value": 0.9, "margin": 0.05})
    fig = draw(pred, rows({"default": [0.88, 0.91]}))
    assert by_gid(fig, "value") and by_gid(fig, "margin")


def test_an_untestable_prediction_says_why_instead_of_drawing_an_effect():
    _, pred = record({"kind": "threshold", "condition": "default", "metric": "train_acc", "reduce": "final",
                      "threshold": 0.5, "direction": "greater"}, estimate=math.nan, ci=(math.nan, math.nan),
                     ci_judged=(math.nan, math.nan), notes=["fewer than 2 runs"])
    fig = draw(pred, rows({"default": [0.9]}))
    assert any("fewer than 2 runs" in t.get_text() for t in fig.axes[1].texts)


def test_censored_runs_are_drawn_hollow():
    _, pred = record({"kind": "threshold", "condition": "default", "metric": "val_acc",
                      "reduce": {"name": "first_crossing", "threshold": 0.9}, "threshold": 100, "direction": "less"})
    fig = draw(pred, rows({"default": [150.0, 150.0]}, censored=True))
    assert by_gid(fig, "censored:default") and not len(by_gid(fig, "runs:default")[0].get_offsets())


def test_both_reports_show_each_prediction_s_figure_under_it_beside_the_curve_of_what_it_reads(tmp_path):
    from conftest import reduced_table, write_records
    from refute.report.html import write_html_report
    from refute.report.markdown import write_report

    plan = plan_of({**TINY, "id": "h", "predictions": [
        {**TINY["predictions"][0], "id": "first"}, {**TINY["predictions"][0], "id": "second"}]})
    preds = prediction_records(plan, {"first": "holds", "second": "inconclusive"})
    write_records(tmp_path, plan, verdict_record(plan, preds, "INCONCLUSIVE"), preds, reduced_table(preds))
    md = write_report("h", tmp_path).read_text()
    html = write_html_report("h", tmp_path).read_text()
    for pid in ("first", "second"):
        assert (tmp_path / "h" / "figures" / f"prediction-{pid}.png").stat().st_size > 5000
        section = md.split(f"### `{pid}`")[1].split("\n### ")[0]
        assert f"![what {pid} tests](figures/prediction-{pid}.png)" in section
        block = html.split(f'id="prediction-{pid}"')[1].split('<div class="prediction"')[0]
        grid = block.split('<div class="figures pair">')[1].split("</div>")[0]
        # Its own figure, then the learning curve of the metric it reads (train_acc), side by side.
        assert re.findall(r'<img alt="([^"]+)"', grid) == [f"what {pid} tests", "train_acc"]
    assert "display: grid" in html


def curves(shape, steps=range(0, 501, 10), seeds=(0, 1), metric="val_acc"):
    return pd.DataFrame([{"condition": "a", "seed": s, "step": t, "metric": metric, "value": shape(t) + 0.01 * s}
                         for s in seeds for t in steps])


def test_a_crossing_early_in_the_run_gets_a_zoomed_panel_and_its_threshold_drawn():
    from refute.report.figures import Crossing, curve_figure

    table = curves(lambda t: min(1.0, t / 40))  # crosses 0.9 at step 36–40 of 500
    fig = curve_figure("val_acc", table, [Crossing("groks", 0.9, (40.0, 40.0))])
    full, zoom = fig.axes
    assert zoom.get_gid() == "zoom" and zoom.get_xlim() == (0.0, 80.0)  # twice as far as the crossing
    assert [line.get_ydata()[0] for line in by_gid(fig, "crossing:groks")] == [0.9, 0.9]  # on both panels
    late = curve_figure("val_acc", table, [Crossing("late", 0.9, (300.0,))])
    assert len(late.axes) == 1  # crossed late: the full run shows it


def test_curves_that_settle_early_are_zoomed_and_curves_that_move_all_run_are_not():
    from refute.report.figures import curve_figure

    early = curve_figure("train_loss", curves(lambda t: 2 * math.exp(-t / 8) + 1e-3, metric="train_loss"))
    assert len(early.axes) == 2 and early.axes[1].get_xlim()[1] <= 0.5 * 500
    steady = curve_figure("val_acc", curves(lambda t: t / 500))
    assert len(steady.axes) == 1


def test_the_report_draws_the_crossing_a_prediction_reads_on_its_curve(tmp_path):
    from refute.report.figures import crossings_of

    _, pred = record({"kind": "threshold", "condition": "default", "metric": "val_acc",
                      "reduce": {"name": "first_crossing", "threshold": 0.9}, "threshold": 100, "direction": "less"})
    reduced = rows({"default": [40.0, 30.0]}, metric="val_acc")
    reduced.loc[1, "censored"] = True  # never crossed: not a crossing step
    (crossing,) = crossings_of([pred], reduced)["val_acc"]
    assert crossing.threshold == 0.9 and crossing.steps == (40.0,) and crossing.prediction == "p"


def test_after_a_run_of_some_hypotheses_the_index_exists_links_what_ran_and_shows_the_rest_not_run(tmp_path):
    import os

    from conftest import write_plan_file, write_records
    from refute.report.html import write_html_report
    from refute.report.index import refresh_index

    ran = plan_of({**TINY, "id": "ran"})
    waiting = plan_of({**TINY, "id": "waiting", "title": "Not yet"})
    preds = prediction_records(ran, {"fits": "holds"})
    write_records(tmp_path, ran, verdict_record(ran, preds, "SUPPORTED"), preds)
    plans = [write_plan_file(ran, tmp_path), write_plan_file(waiting, tmp_path)]
    report = write_html_report("ran", tmp_path)
    assert '<a href="../index.html">agenda index</a>' in report.read_text()

    written = refresh_index(plans, tmp_path)
    html = (tmp_path / "index.html").read_text()
    assert (report.parent / "../index.html").resolve() in [p.resolve() for p in written]  # the link lands
    assert '<a href="ran/report.html">ran</a>' in html  # what ran, linked: the target exists
    row = html.split("<b>waiting</b>")[1].split("</tr>")[0]  # the rest, not run and not linked
    assert '<span class="badge pending">not run</span>' in row and "href" not in row
    assert refresh_index(plans, tmp_path) == []  # up to date: nothing written
    later = (tmp_path / "index.html").stat().st_mtime + 5
    os.utime(report, (later, later))  # a report written since (another partial run)
    assert refresh_index(plans, tmp_path)


def test_a_correlation_draws_each_run_s_two_values_one_against_the_other():
    _, pred = record({"kind": "correlation", "metric": "val_acc", "reduce": "final", "direction": "greater",
                      "x": {"metric": "weight_norm", "reduce": "final"}}, test="Spearman rank correlation",
                     estimate=0.8, ci=(0.2, 0.95), ci_judged=(0.2, 0.95))
    y = rows({"default": [0.5, 0.7, 0.9]})
    x = rows({"default": [1.0, 2.0, 3.0]}, metric="weight_norm").assign(role="x")
    fig = draw(pred, pd.concat([y, x], ignore_index=True))
    (dots,) = by_gid(fig, "runs")
    assert [tuple(p) for p in dots.get_offsets()] == [(1.0, 0.5), (2.0, 0.7), (3.0, 0.9)]


def test_a_rank_trend_draws_no_line_it_did_not_fit():
    conditions = {f"w-{v}": {"model.params.width": v} for v in (8, 16, 32)}
    _, pred = record({"kind": "trend", "x": {"param": "model.params.width"}, "metric": "train_loss",
                      "reduce": "final", "direction": "less", "log_x": True}, conditions,
                     test="Spearman rank correlation", estimate=-0.9, ci=(-0.99, -0.5), ci_judged=(-0.99, -0.5))
    fig = draw(pred, rows({"w-8": [3.0], "w-16": [2.0], "w-32": [1.0]}, {"w-8": 8.0, "w-16": 16.0, "w-32": 32.0}))
    assert by_gid(fig, "runs") and by_gid(fig, "means") and not by_gid(fig, "fit")
    assert fig.axes[0].get_xscale() == "log"


def test_a_proportion_of_diverged_runs_shows_which_runs_diverged_not_a_success_line():
    _, pred = record({"kind": "proportion", "conditions": ["default"], "metric": "train_loss", "reduce": "final",
                      "meets": {"diverged": True}, "p0": 0.5, "direction": "greater"})
    fig = draw(pred, rows({"default": [1.0, 1.0, 0.0]}))  # a diverged run's value is 1, 0 otherwise
    assert not by_gid(fig, "meets")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["did not diverge", "diverged"]
