"""Probes and snapshots in hypothesis files: validated against each condition's model before anything runs."""

import pytest

from conftest import write_yaml

from refute.spec.errors import SpecError
from refute.spec.hashing import run_hash
from refute.spec.loader import load_hypothesis
from refute.workflow.agenda import Agenda


def errors_of(path) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_hypothesis(path)
    return [str(i) for i in err.value.issues]


def with_probes(tiny, *probes, **train):
    tiny["probes"] = list(probes)
    tiny["train"].update(train)
    return tiny


def test_probes_and_predictions_on_their_outputs_validate(tmp_path, tiny):
    with_probes(tiny, {"name": "fourier", "steps": "snapshots"}, {"name": "linear_probe", "id": "lin", "site": "hidden.0"},
                snapshots={"every": 50})
    tiny["predictions"].append({"id": "fourier-final", "kind": "threshold", "condition": "default", "reduce": "final",
                                "metric": "fourier/top_k_fraction@embed", "threshold": 0.2, "direction": "greater"})
    tiny["predictions"].append({"id": "decodes", "kind": "threshold", "condition": "default", "reduce": "final",
                                "metric": "lin/selectivity@hidden.0", "threshold": 0.2, "direction": "greater"})
    h = load_hypothesis(write_yaml(tmp_path / "h.yaml", tiny))
    assert h.conditions["default"].train.snapshots == [0, 50, 100, 150]
    assert [p.label for p in h.hypothesis.probes] == ["fourier", "lin"]


@pytest.mark.parametrize(
    "probe,train,expected",
    [
        ({"name": "linear_probe", "site": "hiden.0"}, {},
         "probes.0.site: model 'mlp' has no site 'hiden.0'; sites: embed, pre.0, hidden.0, logits"),
        ({"name": "fourier", "steps": "snapshots"}, {}, "probes.0.steps: 'snapshots' needs train.snapshots"),
        ({"name": "fourier", "steps": [60]}, {"snapshots": [50]}, "probes.0.steps: no weights are kept at [60]"),
        ({"name": "fourier", "topk": 3}, {}, "probes.0.topk: unknown field (did you mean 'top_k'?)"),
        ({"name": "fourier", "top_k": 0}, {}, "probes.0.top_k: must be >= 1"),
        ({"name": "probe_everything"}, {}, "probes.0.name: unknown name 'probe_everything'"),
        ({"name": "cka", "site": "hidden.0", "between": "conditions", "reference": "nope"}, {},
         "probes.0.reference: unknown condition 'nope'"),
        ({"name": "cka", "site": "hidden.0", "between": "sites"}, {}, "between: sites needs other_site"),
        ({"name": "ablation", "site": "hidden.0", "group_size": 5}, {}, "probes.0.group_size: 5 does not divide the 32"),
        ({"name": "localization", "site": "embed", "expected": [99]}, {}, "probes.0.expected: components [99] are outside"),
        ({"name": "patching", "corrupt": "input.7"}, {}, "probes.0.corrupt: 'input.7' needs a token task"),
        ({"name": "pruning", "rewind_step": 20}, {}, "probes.0.rewind_step: no weights are kept at step 20"),
        ({"name": "fourier", "conditions": ["nope"]}, {}, "probes.0.conditions: unknown condition 'nope'"),
        # A parameter its mode never reads would be shown in the report as if it mattered.
        ({"name": "cka", "site": "hidden.0", "other_site": "embed"}, {},
         "probes.0.other_site: is read only with between: sites (here between: seeds)"),
        ({"name": "cka", "site": "hidden.0", "between": "sites", "other_site": "embed", "reference_site": "embed"}, {},
         "probes.0.reference_site: is read only with between: conditions (here between: sites)"),
        ({"name": "cka", "site": "hidden.0", "reference": "default"}, {},
         "probes.0.reference: is read only with between: conditions (here between: seeds)"),
    ],
)
def test_bad_probes_are_reported_by_file_line_and_field(tmp_path, tiny, probe, train, expected):
    errs = errors_of(write_yaml(tmp_path / "h.yaml", with_probes(tiny, probe, **train)))
    assert any(expected in e for e in errs), errs
    assert all(e.startswith(f"{tmp_path / 'h.yaml'}:") for e in errs)


def test_a_parameter_the_mode_ignores_is_refused_at_its_line(tmp_path, tiny):
    path = write_yaml(tmp_path / "h.yaml", with_probes(tiny, {"name": "cka", "site": "hidden.0", "between": "seeds",
                                                              "other_site": "embed"}))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "other_site" in text)
    assert errors_of(path) == [f"{path}:{line}: probes.0.other_site: is read only with between: sites (here "
                               "between: seeds), where it would change nothing; remove it"]


def test_every_mode_dependent_parameter_names_a_mode_field_of_its_component():
    """`only_with` names fields that exist, with values they can take (a typo would silently accept all)."""
    import typing

    from refute.components.observables import OBSERVABLES
    from refute.components.probes import PROBES

    marked = 0
    for registry in (PROBES, OBSERVABLES):
        for name in registry.names():
            params = registry.get(name).params
            for field in params.model_fields.values():
                rule = (field.json_schema_extra or {}).get("only_with", {}) if isinstance(field.json_schema_extra, dict) else {}
                for mode, allowed in rule.items():
                    assert set(allowed) <= set(typing.get_args(params.model_fields[mode].annotation)), (name, mode)
                    marked += 1
    assert marked >= 3  # cka: other_site, reference, reference_site


def test_duplicate_probe_ids_and_unknown_probe_outputs_are_errors(tmp_path, tiny):
    with_probes(tiny, {"name": "fourier"}, {"name": "fourier", "top_k": 3})
    tiny["predictions"][0]["metric"] = "fourier/top_k_fraction"
    errs = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert any("probes.1.id: duplicate probe id 'fourier'" in e for e in errs), errs
    assert any("predictions.0.metric: metric 'fourier/top_k_fraction' is never logged or probed" in e
               and "fourier/top_k_fraction@embed" in e for e in errs), errs


def test_snapshots_after_the_last_step_are_an_error(tmp_path, tiny):
    tiny["train"]["snapshots"] = [0, 500]
    errs = errors_of(write_yaml(tmp_path / "h.yaml", tiny))
    assert any("snapshots [500] are after the last step (150)" in e for e in errs), errs


def test_snapshots_are_part_of_the_run_hash_but_asking_for_none_changes_no_hash(tmp_path, tiny):
    plain = load_hypothesis(write_yaml(tmp_path / "a.yaml", tiny)).conditions["default"]
    tiny["train"]["snapshots"] = []
    empty = load_hypothesis(write_yaml(tmp_path / "b.yaml", tiny)).conditions["default"]
    tiny["train"]["snapshots"] = {"every": 50}
    every = load_hypothesis(write_yaml(tmp_path / "c.yaml", tiny)).conditions["default"]
    tiny["train"]["snapshots"] = [150, 0, 100, 50]
    listed = load_hypothesis(write_yaml(tmp_path / "d.yaml", tiny)).conditions["default"]
    assert run_hash(plain) == run_hash(empty) != run_hash(every) == run_hash(listed)


def test_the_same_probe_of_the_same_run_is_one_job_across_hypotheses(tmp_path, tiny):
    with_probes(tiny, {"name": "fourier", "id": "f"})
    a = load_hypothesis(write_yaml(tmp_path / "hyp" / "a.yaml", tiny))
    tiny.update(id="other", probes=[{"name": "fourier", "id": "g"}, {"name": "fourier", "id": "h", "top_k": 2}])
    b = load_hypothesis(write_yaml(tmp_path / "hyp" / "b.yaml", tiny))
    plan = Agenda([a, b], tmp_path / "results")
    assert a.probe_jobs[0].hash == b.probe_jobs[0].hash  # the id only labels
    assert b.probe_jobs[0].hash != b.probe_jobs[1].hash
    assert len(plan.probes) == 2


def test_a_cka_probe_between_conditions_depends_on_both_runs(tmp_path, tiny):
    tiny["conditions"] = {"small": {"model.params.width": 16}, "wide": {}}
    tiny["predictions"][0]["condition"] = "wide"
    with_probes(tiny, {"name": "cka", "site": "hidden.0", "between": "conditions", "reference": "small",
                       "conditions": ["wide"]})
    h = load_hypothesis(write_yaml(tmp_path / "h.yaml", tiny))
    (job,) = h.probe_jobs
    assert job.condition == "wide" and job.reference == h.runs["small"] and job.run == h.runs["wide"]
    inputs = Agenda([h], tmp_path / "results").probe_inputs(job.hash)
    assert any(h.runs["small"] in i for i in inputs) and any(h.runs["wide"] in i for i in inputs)


def test_the_readme_probe_example_is_valid(tmp_path):
    import yaml

    from conftest import ROOT

    block = (ROOT / "README.md").read_text().split("## Probes")[1].split("```yaml\n")[1].split("```")[0]
    snippet = yaml.safe_load(block)
    spec = yaml.safe_load((ROOT / "hypotheses" / "grokking-fourier.yaml").read_text())
    spec["train"].update(snippet["train"])
    spec.update(probes=snippet["probes"], predictions=snippet["predictions"])
    h = load_hypothesis(write_yaml(tmp_path / "readme.yaml", spec))
    assert [p.label for p in h.hypothesis.probes] == ["fourier", "decode-a"]
