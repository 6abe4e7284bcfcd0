"""Alternative explanations: validated against the file, then ruled out, surviving or open."""

import pytest

from conftest import write_yaml
from refute.spec.errors import SpecError
from refute.spec.loader import load_hypothesis
from refute.spec.schema import Alternative
from refute.stats.alternatives import OPEN, RULED_OUT, SURVIVES, judge_alternatives
from refute.components.predictions.outcome import Outcome


@pytest.fixture
def with_control(tiny):
    tiny["conditions"] = {"default": {}, "control": {"model.params.init_scale": 0.5}}
    tiny["predictions"].append({"id": "beats-control", "kind": "compare", "conditions": ["default", "control"],
                                "metric": "train_acc", "reduce": "final", "direction": "greater"})
    tiny["alternatives"] = [{"id": "init", "explanation": "it is the init", "conditions": ["control"],
                             "predictions": ["beats-control"]}]
    return tiny


def test_a_valid_alternative_loads(tmp_path, with_control):
    h = load_hypothesis(write_yaml(tmp_path / "h.yaml", with_control))
    assert h.hypothesis.alternatives[0].ruled_out_if == "holds"


@pytest.mark.parametrize("edit, expected", [
    (lambda a: a.update(predictions=["nope"]), "alternatives.0.predictions: unknown prediction 'nope'"),
    (lambda a: a.update(conditions=["nowhere"]), "alternatives.0.conditions: unknown condition 'nowhere'"),
    (lambda a: a.update(predictions=["fits"]), "condition 'control' is not tested by any of the alternative's"),
    (lambda a: a.update(ruled_out_if="maybe"), "alternatives.0.ruled_out_if: must be 'holds' or 'contradicted'"),
    (lambda a: a.pop("explanation"), "alternatives.0.explanation: required field is missing"),
])
def test_a_bad_alternative_is_reported_by_line_and_field(tmp_path, with_control, edit, expected):
    edit(with_control["alternatives"][0])
    path = write_yaml(tmp_path / "h.yaml", with_control)
    with pytest.raises(SpecError) as exc:
        load_hypothesis(path)
    errs = [str(i) for i in exc.value.issues]
    assert any(expected in e for e in errs), errs
    assert all(e.startswith(f"{path}:") and e.split(":")[1].isdigit() for e in errs)


def alt(predictions, ruled_out_if="holds"):
    return Alternative(id="a", explanation="e", conditions=["c"], predictions=predictions, ruled_out_if=ruled_out_if)


def outcomes(**status):
    return {k: Outcome(v, "", "") for k, v in status.items()}


@pytest.mark.parametrize("status, rule, expected", [
    ({"p": "holds", "q": "holds"}, "holds", RULED_OUT),
    ({"p": "holds", "q": "inconclusive"}, "holds", OPEN),
    ({"p": "holds", "q": "contradicted"}, "holds", SURVIVES),
    ({"p": "inconclusive", "q": "contradicted"}, "holds", SURVIVES),
    ({"p": "contradicted", "q": "contradicted"}, "contradicted", RULED_OUT),
    ({"p": "contradicted", "q": "holds"}, "contradicted", SURVIVES),
])
def test_status_of_an_alternative(status, rule, expected):
    [a] = judge_alternatives([alt(list(status), rule)], outcomes(**status))
    assert a["status"] == expected
    assert a["predictions"] == status


def test_nothing_is_ruled_out_by_invalid_runs():
    [a] = judge_alternatives([alt(["p"])], outcomes(p="holds"), valid=False)
    assert a["status"] == OPEN and "invalid" in a["why"]
