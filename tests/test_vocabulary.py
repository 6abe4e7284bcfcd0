"""A vocabulary a newcomer can find: `refute describe` and docs/reference.md cover every registered component
from the schema the loader uses, and errors name what would have been valid."""

import pytest

from conftest import ROOT, dedent, write_yaml
from refute.spec.schema import Train
from refute.spec.vocabulary import KINDS, common_parameters, describe, parameters, reference


def test_describe_lists_every_registered_component_of_every_kind():
    text = describe()
    for kind, registry in KINDS.items():
        block = text.split(f"{kind}s:\n")[1].split("s:\n")[0]
        listed = [line.split()[0] for line in block.splitlines() if line.startswith("  ")]
        assert listed[:len(registry.names())] == registry.names(), kind


@pytest.mark.parametrize("kind", list(KINDS))
def test_describing_a_kind_gives_every_parameter_of_every_component(kind):
    registry = KINDS[kind]
    text = describe(kind)
    for entry in registry.entries():
        assert f"{kind} {entry.name}: " in text
        one = describe(kind, entry.name) + "\n" + "\n".join(p.name for p in common_parameters(kind))
        for field in entry.params.model_fields:
            if field != registry.key:
                assert f"  {field} " in one or f"\n{field}" in one, (entry.name, field)


def test_a_parameter_is_described_with_its_type_default_range_and_help():
    line = next(l for l in describe("task", "planted_feature").splitlines() if l.strip().startswith("n_features"))
    assert line.split()[:3] == ["n_features", "integer", "default"]
    assert "32" in line and "[>= 1, <= 4096]" in line and "input dimension" in line
    [lr] = [p for p in parameters(Train) if p.name == "lr"]
    assert (lr.type, lr.default, lr.range) == ("number", "required", "> 0, <= 100")


def test_the_reference_page_is_generated_from_the_schema_and_current():
    page = (ROOT / "docs/reference.md").read_text()
    assert page == reference(), ("docs/reference.md is stale: regenerate it with python -c 'from "
                                 "refute.spec.vocabulary import reference; print(reference(), end=\"\")' > docs/reference.md")
    for registry in KINDS.values():
        for name in registry.names():
            assert f"### `{name}`" in page
    assert "docs/reference.md" in (ROOT / "README.md").read_text()


def test_refute_describe_on_the_command_line(capsys, tmp_path):
    from refute.cli import main

    assert main(["describe", "probes", "fourier", "--hypotheses", str(tmp_path / "hypotheses")]) == 0
    assert "probe fourier: " in capsys.readouterr().out
    assert main(["describe", "widgets", "--hypotheses", str(tmp_path / "hypotheses")]) == 1
    assert "unknown kind 'widgets'; kinds: task, model, optimizer" in capsys.readouterr().err
    assert main(["describe", "hypothesis", "--hypotheses", str(tmp_path / "hypotheses")]) == 0
    assert "seeds_per_job" in capsys.readouterr().out


# --------------------------------------------------------------------------------- errors that teach the names

def errors(tmp_path, data) -> list[str]:
    from refute.spec.errors import SpecError
    from refute.spec.loader import load_hypothesis

    path = write_yaml(tmp_path / "h.yaml", data)
    with pytest.raises(SpecError) as err:
        load_hypothesis(path)
    return [str(i).split(f"{path}:", 1)[1] for i in err.value.issues]


def test_an_unknown_parameter_lists_the_component_s_parameters(tmp_path, tiny):
    tiny["task"] = {"name": "planted_feature", "params": {"d_in": 3}}
    [err] = errors(tmp_path, tiny)
    assert err.split(": ", 1)[1] == ("task.params.d_in: unknown field; planted_feature takes n_features, planted, "
                                     "n_train, n_val, label_noise, split_seed")


def test_an_unknown_parameter_close_to_a_valid_one_says_which(tmp_path, tiny):
    tiny["observables"] = ["loss", {"name": "weight_norm", "per_layr": True}]
    [err] = errors(tmp_path, tiny)
    assert err.split(": ", 1)[1].startswith("observables.1.per_layr: unknown field (did you mean 'per_layer'?); "
                                            "weight_norm takes ")
    assert "name, every, per_layer" in err


def test_names_yaml_reads_as_booleans_numbers_or_null_get_a_hint_to_quote_them(tmp_path):
    text = dedent("""
        id: 2024
        title: t
        statement: s
        task: {name: modular_arithmetic}
        model: {name: mlp}
        train: {lr: 0.01, steps: 10, eval_every: 5}
        seeds: 2
        observables: [accuracy]
        conditions:
          no: {train.lr: 0.1}
        predictions:
          - {id: p, kind: compare, conditions: [yes, no], metric: val_acc, reduce: final, direction: greater}
          - {id: null, kind: threshold, condition: default, metric: val_acc, reduce: final, threshold: 0.5,
             direction: greater}
    """)
    assert errors(tmp_path, text) == [
        "1: id: must be a valid string; YAML reads 2024 as a number: quote it ('2024')",
        "10: conditions.False: must be a valid string; YAML reads no as a boolean: quote it ('no')",
        "12: predictions.0.conditions.0: must be a valid string; YAML reads yes as a boolean: quote it ('yes')",
        "12: predictions.0.conditions.1: must be a valid string; YAML reads no as a boolean: quote it ('no')",
        "13: predictions.1.id: must be a valid string; YAML reads null as null (no value): quote it ('null')",
    ]
