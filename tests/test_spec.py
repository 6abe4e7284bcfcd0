"""The hypothesis spec: valid files load; every mistake names file, line and field."""

import json

import pytest

from conftest import ROOT, dedent, write_yaml
from refute.spec.errors import SpecError
from refute.spec.loader import load_all, load_hypothesis


def errors_of(path) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_hypothesis(path)
    return [str(i) for i in exc.value.issues]


def test_bundled_example_is_valid():
    h = load_hypothesis(ROOT / "hypotheses" / "grokking-weight-decay.yaml")
    assert h.id == "grokking-weight-decay"
    assert set(h.conditions) == {"wd1", "wd0"}
    assert h.conditions["wd0"].train.weight_decay == 0.0
    assert h.conditions["wd1"].train.weight_decay == 1.0
    assert h.runs["wd0"] != h.runs["wd1"]


def test_seed_count_expands_to_a_list(tmp_path, tiny):
    h = load_hypothesis(write_yaml(tmp_path / "t.yaml", tiny))
    assert h.conditions["default"].seeds == [0, 1, 2]


def test_misspelled_field_is_rejected_with_file_line_and_hint(tmp_path):
    path = write_yaml(tmp_path / "h.yaml", dedent("""
        id: h
        title: t
        statement: s
        task: {name: modular_arithmetic}
        model: {name: mlp}
        train:
          lr: 0.01
          steps: 10
          eval_every: 5
          weight_decy: 1.0
        seeds: 2
        observables: [accuracy]
        predictions:
          - {id: p, kind: threshold, condition: default, metric: val_acc, reduce: final, threshold: 0.5, direction: greater}
    """))
    assert errors_of(path) == [f"{path}:10: train.weight_decy: unknown field (did you mean 'weight_decay'?); train "
                               "takes optimizer, lr, weight_decay, steps, batch_size, eval_every, schedule, grad_clip, "
                               "snapshots"]


def test_out_of_range_value_names_line_and_field(tmp_path, tiny):
    tiny["train"]["lr"] = -0.1
    path = write_yaml(tmp_path / "h.yaml", tiny)
    [err] = errors_of(path)
    line = path.read_text().splitlines().index("  lr: -0.1") + 1
    assert err == f"{path}:{line}: train.lr: must be > 0"


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda d: d["task"].update(name="nope"), "task.name: unknown name 'nope'"),
        (lambda d: d["model"]["params"].update(widht=3), "model.params.widht: unknown field (did you mean 'width'?)"),
        (lambda d: d["train"].update(steps=10**9), "train.steps: must be <= 1e+07"),
        (lambda d: d.update(seeds=0), "seeds: must be between 1 and"),
        (lambda d: d.update(id="../escape"), "id: must be a slug"),
        (lambda d: d["train"].update(optimizer="adamm"), "train.optimizer: unknown name 'adamm'; known: 'adam', 'adamw', 'sgd'"),
        (lambda d: d["predictions"][0].update(reduce="median"), "predictions.0.reduce: unknown name 'median'"),
        (lambda d: d["predictions"][0].update(metric="val_accuracy"), "metric 'val_accuracy' is never logged"),
        (lambda d: d["predictions"][0].update(condition="other"), "unknown condition 'other'"),
        (lambda d: d["predictions"][0].update(alpha=1.5), "predictions.0.alpha: must be < 1"),
        (lambda d: d.pop("statement"), "statement: required field is missing"),
    ],
)
def test_bad_values_are_reported_by_field(tmp_path, tiny, edit, expected):
    edit(tiny)
    errs = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert any(expected in e for e in errs), errs
    assert all(e.startswith(f"{tmp_path / 'h.yaml'}:") for e in errs)


def test_condition_overrides_are_validated_at_their_own_line(tmp_path, tiny):
    tiny["conditions"] = {"ok": {"train.lr": 0.1}, "bad": {"train.lr": -1}}
    path = write_yaml(tmp_path / "h.yaml", tiny)
    tiny["predictions"][0]["condition"] = "ok"
    path = write_yaml(tmp_path / "h.yaml", tiny)
    [err] = errors_of(path)
    line = path.read_text().splitlines().index("    train.lr: -1") + 1
    assert err == f"{path}:{line}: conditions.bad: train.lr: must be > 0"


def test_override_outside_the_run_spec_is_rejected(tmp_path, tiny):
    tiny["conditions"] = {"c": {"title": "x"}}
    tiny["predictions"][0]["condition"] = "c"
    [err] = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert "conditions.c.title: can only override task, model, train, seeds, observables" in err


def test_sweep_crosses_conditions(tmp_path, tiny):
    tiny["conditions"] = {"a": {"train.weight_decay": 0.0}, "b": {"train.weight_decay": 1.0}}
    tiny["sweep"] = {"model.params.width": [8, 16]}
    tiny["predictions"][0]["condition"] = "a_width=8"
    h = load_hypothesis(write_yaml(tmp_path / "h.yaml", tiny))
    assert sorted(h.conditions) == ["a_width=16", "a_width=8", "b_width=16", "b_width=8"]
    assert h.conditions["b_width=16"].model.params.width == 16
    assert h.conditions["b_width=16"].train.weight_decay == 1.0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ":1: the file is empty"),
        ("- a\n- b\n", ":1: a hypothesis must be a YAML mapping, not a list"),
        ("id: [unclosed\n", "malformed YAML"),
    ],
)
def test_files_that_are_not_hypotheses(tmp_path, text, expected):
    [err] = errors_of(write_yaml(tmp_path / "h.yaml", text))
    assert expected in err


def test_duplicate_ids_across_files_are_reported(tmp_path, tiny):
    write_yaml(tmp_path / "a.yaml", tiny)
    write_yaml(tmp_path / "b.yaml", tiny)
    with pytest.raises(SpecError) as exc:
        load_all(tmp_path)
    [issue] = exc.value.issues
    assert issue.file.endswith("b.yaml") and issue.field == "id" and "already used" in issue.message


def test_run_hash_ignores_everything_but_training(tmp_path, tiny):
    a = load_hypothesis(write_yaml(tmp_path / "a.yaml", tiny))
    tiny["predictions"][0]["threshold"] = 0.9
    tiny["title"] = "changed"
    b = load_hypothesis(write_yaml(tmp_path / "b.yaml", tiny))
    tiny["train"]["lr"] = 0.02
    c = load_hypothesis(write_yaml(tmp_path / "c.yaml", tiny))
    assert a.runs == b.runs != c.runs


def test_the_readme_example_hypothesis_is_valid(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## A minimal hypothesis, commented")[1].split("```yaml\n")[1].split("```")[0]
    h = load_hypothesis(write_yaml(tmp_path / "readme.yaml", block))
    assert set(h.conditions) == {"narrow", "wide"}


def test_checking_hypotheses_imports_neither_torch_nor_scipy():
    """Validation runs at every Snakemake start, in `refute check`, and in every statistics and report
    job: importing torch there would cost ~1 s each, scipy's statistics ~0.5 s."""
    import subprocess
    import sys

    code = """
import sys
from refute.spec.loader import load_hypothesis
for name in ("grokking-weight-decay", "grokking-fourier", "localization-budget", "edge-of-stability"):
    load_hypothesis(f"hypotheses/{name}.yaml")
print("torch" in sys.modules, "scipy.stats" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False False"


def test_a_plan_read_back_from_its_file_is_the_same_plan_in_the_same_order(tmp_path):
    """Conditions keep the order the hypothesis gives them (tables and reports list them so), and the
    plan's name (its digest) does not depend on how its file is laid out."""
    from refute.spec.plan import read_plan, write_plan

    plan = load_hypothesis(ROOT / "hypotheses" / "wd-grok-mod17.yaml")
    write_plan(plan, tmp_path / "plan.json")
    again = read_plan(tmp_path / "plan.json")
    assert again == plan and again.digest() == plan.digest()
    assert list(again.conditions) == list(again.runs) == ["wd1", "wd0", "small-init"]


EDGE_OF_STABILITY_RUNS = {"lr=0.1": "b6a16bb43a15aaf6", "lr=0.2": "9653e6132338e90d"}


def test_run_hashes_and_registered_plans_of_the_bundled_hypotheses_do_not_move():
    """A run's hash names its stored results, and a registered plan's hash decides whether a verdict is still
    pre-registered: a refactoring that changed either would retrain everything or make every verdict post hoc."""
    from refute.stats import preregistration

    plan = load_hypothesis(ROOT / "hypotheses" / "grokking-weight-decay.yaml")
    # Trainer version 3 (alignment-independent products, refute.scaling.blas) moved every run's numbers by
    # rounding, so every run's name moved too (these were ecf50353bcfc8dde and b616e2de1fe87039).
    assert plan.runs == {"wd1": "b7fffb0046349294", "wd0": "d2543d24609eface"}
    assert load_hypothesis(ROOT / "hypotheses" / "edge-of-stability.yaml").runs == EDGE_OF_STABILITY_RUNS
    assert preregistration.digest(preregistration.plan_of(plan)) == \
        "b1013e7e58d35c4fc6378fe1274b4df404d01007d431f43a4f92a0e6226be421"


def test_the_runs_a_bundled_seal_records_as_seen_are_runs_of_its_plan():
    """A seal names the runs whose data had been seen by run hash: a change that renames runs must carry
    the seals along, or a report would stop saying its data had been seen."""
    for sealed in sorted((ROOT / "hypotheses" / ".sealed").glob("*.json")):
        record = json.loads(sealed.read_text())
        plan = load_hypothesis(ROOT / "hypotheses" / record["hypothesis_file"])
        assert set(record["seen"]) <= set(plan.runs.values()), sealed.name
