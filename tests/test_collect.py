"""`refute collect` and `refute.load()`: every hypothesis's results as two tidy tables."""

import pandas as pd

import refute
from conftest import TINY, plan_of, prediction_records, verdict_record, write_records
from refute import cli


def _analysed(results):
    """Two hypotheses with verdicts: `sweep` over two widths, `tiny` with one condition (post hoc)."""
    sweep = plan_of({**TINY, "id": "sweep", "conditions": {"narrow": {"model.params.width": 16},
                                                           "wide": {"model.params.width": 64}},
                     "predictions": [{**TINY["predictions"][0], "condition": "wide"}]}, "hypotheses/sweep.yaml")
    obs = pd.DataFrame({"condition": ["narrow", "narrow", "wide", "wide"], "seed": [0, 0, 0, 0],
                        "step": [0, 150, 0, 150], "metric": "train_acc", "value": [0.1, 0.6, 0.1, 0.9]})
    preds = prediction_records(sweep, {"fits": "holds"})
    write_records(results, sweep, verdict_record(sweep, preds, "SUPPORTED"), preds, observations=obs)
    tiny = plan_of(TINY, "hypotheses/tiny.yaml")
    preds = prediction_records(tiny, {"fits": "contradicted"})
    write_records(results, tiny, verdict_record(tiny, preds, "REFUTED", post_hoc=True), preds)
    return sweep, tiny


def test_load_gives_one_tidy_row_per_value_with_each_conditions_parameters(tmp_path):
    sweep, tiny = _analysed(tmp_path / "results")
    (tmp_path / "results" / "not-run").mkdir()  # no verdict: left out
    got = refute.load(tmp_path / "results")
    m = got.metrics
    assert list(m.columns[:3]) == ["hypothesis", "condition", "run"]
    assert list(m.columns[-4:]) == ["seed", "step", "metric", "value"]
    assert len(m) == 4 + 2 and set(m.hypothesis) == {"sweep", "tiny"}
    wide = m[(m.hypothesis == "sweep") & (m.condition == "wide")]
    assert set(wide["model.params.width"]) == {64} and set(wide.run) == {sweep.runs["wide"]}
    assert set(m[m.condition == "narrow"]["model.params.width"]) == {16}
    assert set(m["train.lr"]) == {0.01} and "seeds" not in m.columns
    assert wide.set_index("step").value.to_dict() == {0: 0.1, 150: 0.9}
    p = got.predictions.set_index("hypothesis")
    assert p.loc["sweep", "verdict"] == "SUPPORTED" and p.loc["sweep", "conditions"] == "wide"
    assert p.loc["tiny", "outcome"] == "contradicted" and bool(p.loc["tiny", "post_hoc"])
    assert p.loc["tiny", "p"] == 0.01 and (p.loc["tiny", "ci_low"], p.loc["tiny", "ci_high"]) == (0.1, 0.7)


def test_collect_writes_both_tables_into_the_results_folder(tmp_path, monkeypatch, capsys):
    _analysed(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["collect"]) == 0
    assert capsys.readouterr().out.split() == ["results/all-metrics.parquet", "results/all-predictions.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet("results/all-metrics.parquet"), refute.load("results").metrics)
    assert cli.main(["collect", "--format", "csv"]) == 0
    assert pd.read_csv("results/all-predictions.csv").prediction.tolist() == ["fits", "fits"]
