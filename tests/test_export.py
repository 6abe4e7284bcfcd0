"""`refute export`: every analysed hypothesis into MLflow (a local file store) and TensorBoard event files,
read back with the libraries' own readers."""

import json
import os
import sys

import pandas as pd
import pytest

from conftest import TINY, plan_of, prediction_records, refute_cli, verdict_record, write_records
from refute import cli

mlflow = pytest.importorskip("mlflow", reason="the export extra is not installed: pip install -e '.[export]'")
pytest.importorskip("tensorboard", reason="the export extra is not installed: pip install -e '.[export]'")


def _analysed(results):
    """`sweep` (SUPPORTED): two widths, two seeds each, train_acc and a probe summary by step."""
    sweep = plan_of({**TINY, "id": "sweep", "seeds": 2,
                     "conditions": {"narrow": {"model.params.width": 16}, "wide": {"model.params.width": 64}},
                     "predictions": [{**TINY["predictions"][0], "condition": "wide"}]}, "hypotheses/sweep.yaml")
    rows = [(c, s, step, m, 0.1 + 0.5 * (step > 0) + 0.1 * s + (0.2 if c == "wide" else 0.0))
            for c in ("narrow", "wide") for s in (0, 1) for step in (0, 150)
            for m in ("train_acc", "linear_probe/accuracy", "linear_probe/accuracy@hidden.0")]
    obs = pd.DataFrame(rows, columns=["condition", "seed", "step", "metric", "value"])
    preds = prediction_records(sweep, {"fits": "holds"})
    write_records(results, sweep, verdict_record(sweep, preds, "SUPPORTED"), preds, observations=obs)
    # Another hypothesis, on another task: the tidy table's columns are the union of both specs' parameters.
    digits = plan_of({**TINY, "id": "digits", "task": {"name": "digits", "params": {"n_train": 64, "n_val": 32}}},
                     "hypotheses/digits.yaml")
    preds = prediction_records(digits, {"fits": "holds"})
    write_records(results, digits, verdict_record(digits, preds, "SUPPORTED"), preds)
    return sweep, obs


def _client(store):
    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=str(store))


def test_mlflow_gets_one_run_per_condition_and_seed_with_spec_params_step_metrics_and_verdict_tags(
        tmp_path, monkeypatch, capsys):
    sweep, obs = _analysed(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["export", "--mlflow", "mlruns"]) == 0
    assert "5 runs written" in capsys.readouterr().out

    client = _client(tmp_path / "mlruns")
    exp = client.get_experiment_by_name("sweep")
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`refute.condition` = 'wide'")
    assert sorted(r.info.run_name for r in runs) == ["wide.seed0", "wide.seed1"]
    r = next(r for r in runs if r.info.run_name == "wide.seed1")
    assert r.data.tags["refute.hypothesis"] == "sweep" and r.data.tags["refute.verdict"] == "SUPPORTED"
    assert r.data.tags["refute.run"] == sweep.runs["wide"] and r.data.tags["refute.seed"] == "1"
    assert r.data.tags["refute.post_hoc"] == "false"
    p = r.data.params
    assert p["model.params.width"] == "64" and p["train.lr"] == "0.01" and p["seed"] == "1"
    assert p["task.name"] == "modular_arithmetic" and "seeds" not in p
    assert p["task.params.p"] == "11" and "task.params.n_val" not in p  # this spec's own, as written
    assert p["train.weight_decay"] == json.dumps(sweep.conditions["wide"].train.weight_decay)
    want = obs[(obs.condition == "wide") & (obs.seed == 1)]
    # MLflow's keys allow no `@`: a probe summary at a site is `<probe>/<metric>:<site>` there.
    for metric, key in (("train_acc", "train_acc"), ("linear_probe/accuracy", "linear_probe/accuracy"),
                        ("linear_probe/accuracy@hidden.0", "linear_probe/accuracy:hidden.0")):
        history = client.get_metric_history(r.info.run_id, key)
        expected = want[want.metric == metric].set_index("step").value.to_dict()
        assert {m.step: m.value for m in history} == pytest.approx(expected)


def test_exporting_again_leaves_unchanged_runs_and_replaces_reanalysed_ones(tmp_path, monkeypatch, capsys):
    sweep, obs = _analysed(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["export", "--mlflow", "mlruns", "--tensorboard", "tb"]) == 0
    capsys.readouterr()
    assert cli.main(["export", "--mlflow", "mlruns", "--tensorboard", "tb"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert all("0 runs written" in line and "5 unchanged" in line for line in out), out

    preds = prediction_records(sweep, {"fits": "contradicted"})  # analysed again: a new verdict record
    write_records(tmp_path / "results", sweep, verdict_record(sweep, preds, "REFUTED"), preds, observations=obs)
    assert cli.main(["export", "--mlflow", "mlruns", "--tensorboard", "tb"]) == 0
    assert all("4 runs written (4 replacing" in line for line in capsys.readouterr().out.splitlines())
    client = _client(tmp_path / "mlruns")
    runs = client.search_runs([client.get_experiment_by_name("sweep").experiment_id])
    assert len(runs) == 4 and {r.data.tags["refute.verdict"] for r in runs} == {"REFUTED"}
    assert len(list((tmp_path / "tb/sweep/wide/seed0").glob("events.out.tfevents.*"))) == 1


def test_tensorboard_gets_each_metric_by_step_per_condition_and_seed(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, obs = _analysed(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["export", "--tensorboard", "tb"]) == 0
    assert sorted(str(p.relative_to(tmp_path / "tb")) for p in (tmp_path / "tb").glob("*/*/*")) == [
        "digits/default/seed0", "sweep/narrow/seed0", "sweep/narrow/seed1", "sweep/wide/seed0", "sweep/wide/seed1"]
    events = EventAccumulator(str(tmp_path / "tb/sweep/narrow/seed0"))
    events.Reload()
    assert set(events.Tags()["scalars"]) == {"train_acc", "linear_probe/accuracy", "linear_probe/accuracy@hidden.0"}
    want = obs[(obs.condition == "narrow") & (obs.seed == 0) & (obs.metric == "train_acc")]
    assert {e.step: e.value for e in events.Scalars("train_acc")} == pytest.approx(
        want.set_index("step").value.to_dict())


@pytest.mark.parametrize("flag, library", [("--mlflow", "mlflow"), ("--tensorboard", "tensorboard")])
def test_a_missing_library_says_what_to_install(tmp_path, monkeypatch, capsys, flag, library):
    _analysed(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    for name in [m for m in sys.modules if m == library or m.startswith(library + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, library, None)  # what Python does for a package that is not installed
    assert cli.main(["export", flag, "out"]) == 1
    err = capsys.readouterr().err
    assert "not installed" in err and "refute[export]" in err
    assert not (tmp_path / "out").exists()


def test_export_without_a_target_or_without_verdicts_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["export"]) == 1
    assert "--mlflow" in capsys.readouterr().err
    assert cli.main(["export", "--mlflow", "mlruns"]) == 1
    assert "no hypothesis in results has a verdict" in capsys.readouterr().err


def test_the_refute_command_exports_both(tmp_path):
    """The installed entry point, as a user runs it."""
    _analysed(tmp_path / "results")
    out = refute_cli(tmp_path, "export", "--mlflow", "mlruns", "--tensorboard", "tb")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == ["--mlflow mlruns: 5 runs written (0 replacing an older analysis), 0 unchanged",
                                       "--tensorboard tb: 5 runs written (0 replacing an older analysis), 0 unchanged"]
    assert len(_client(tmp_path / "mlruns").search_runs(
        [_client(tmp_path / "mlruns").get_experiment_by_name("sweep").experiment_id])) == 4
