"""Lineage: `refines` is validated, the spec diff names what changed, verdict movement and the tree."""

import pytest

from conftest import ROOT, write_yaml
from conftest import TINY, plan_of, prediction_records, verdict_record
from refute.loop.lineage import ancestors, spec_diff, tree, verdict_movement
from refute.spec.errors import SpecError
from refute.spec.loader import load_all


def issues_of(folder) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_all(folder)
    return [str(i) for i in exc.value.issues]


def test_refines_must_name_a_loaded_hypothesis(tmp_path, tiny):
    tiny["refines"] = "nobody"
    path = write_yaml(tmp_path / "tiny.yaml", tiny)
    line = path.read_text().splitlines().index("refines: nobody") + 1
    assert issues_of(tmp_path) == [f"{path}:{line}: refines: unknown parent hypothesis 'nobody'; loaded: tiny"]


def test_a_lineage_cycle_is_an_error_in_every_file_on_it(tmp_path, tiny):
    for me, parent in (("a", "b"), ("b", "c"), ("c", "a")):
        write_yaml(tmp_path / f"{me}.yaml", {**tiny, "id": me, "refines": parent})
    errs = issues_of(tmp_path)
    assert len(errs) == 3 and all("refines: lineage cycle" in e for e in errs)
    assert any("a → b → c → a" in e for e in errs)


def test_a_hypothesis_cannot_refine_itself(tmp_path, tiny):
    write_yaml(tmp_path / "tiny.yaml", {**tiny, "refines": "tiny"})
    [err] = issues_of(tmp_path)
    assert "lineage cycle: tiny → tiny" in err


def test_a_missing_parent_in_a_broken_file_is_not_blamed_twice(tmp_path, tiny):
    write_yaml(tmp_path / "parent.yaml", {**tiny, "id": "parent", "seeds": 0})
    write_yaml(tmp_path / "child.yaml", {**tiny, "id": "child", "refines": "parent"})
    [err] = issues_of(tmp_path)
    assert "parent.yaml" in err and "seeds" in err


def test_the_bundled_chain_is_linked():
    hyps = {h.id: h for h in load_all(ROOT / "hypotheses")}
    parents = {k: h.hypothesis.refines for k, h in hyps.items()}
    assert list(ancestors("wd-grok-mod17-general", parents)) == ["wd-grok-mod17-more-seeds", "wd-grok-mod17"]


def test_spec_diff_names_fields_and_keys_predictions_by_id():
    parent = {"seeds": [0, 1, 2], "train": {"lr": 0.01, "steps": 100}, "statement": "x  y\n",
              "predictions": [{"id": "p", "kind": "compare", "metric": "val_acc", "conditions": ["a", "b"]},
                              {"id": "q", "alpha": 0.05}], "alternatives": []}
    child = {"seeds": [3, 4, 5, 6], "train": {"lr": 0.01, "steps": 200}, "statement": "x y",
             "predictions": [{"id": "new", "kind": "threshold", "metric": "train_acc", "condition": "a"},
                             {"id": "q", "alpha": 0.01}], "alternatives": []}
    changes = {c.field: (c.to_dict()["before"], c.to_dict()["after"]) for c in spec_diff(parent, child)}
    assert changes == {
        "seeds": ("0–2 (3 seeds)", "3–6 (4 seeds)"),
        "train.steps": ("100", "200"),
        "predictions[p]": ("compare val_acc on a, b", "—"),
        "predictions[new]": ("—", "threshold train_acc on a"),
        "predictions[q].alpha": ("0.05", "0.01"),
    }  # whitespace in text and an empty list of alternatives are not changes; q is compared by id


def test_spec_diff_ignores_identity_fields():
    assert spec_diff({"id": "a", "refines": None, "x": 1}, {"id": "b", "refines": "a", "x": 1}) == []


def two_records(parent_status: dict[str, str], child_status: dict[str, str], parent_verdict: str, child_verdict: str):
    """Parent and child verdict records (from the record models) with these prediction outcomes."""
    def record(hid, status, verdict, **extra):
        preds = [{**TINY["predictions"][0], "id": k} for k in status]
        plan = plan_of({**TINY, "id": hid, "predictions": preds, **extra})
        return verdict_record(plan, prediction_records(plan, status), verdict)

    return (record("parent", parent_status, parent_verdict),
            record("child", child_status, child_verdict, refines="parent", seeds=[3, 4, 5, 6]))


def test_verdict_movement():
    parent, child = two_records({"p": "inconclusive", "gone": "holds"}, {"p": "holds", "new": "holds"},
                                "INCONCLUSIVE", "SUPPORTED")
    move = verdict_movement(parent, child)
    assert move == {"verdict": ["INCONCLUSIVE", "SUPPORTED"],
                    "predictions": [{"id": "p", "before": "inconclusive", "after": "holds"}],
                    "added": ["new"], "dropped": ["gone"]}


def test_tree_puts_children_under_parents_depth_first():
    parents = {"b": None, "a": None, "a2": "a", "a1": "a", "a11": "a1", "orphan": "missing"}
    assert tree(parents) == [(0, "a"), (1, "a1"), (2, "a11"), (1, "a2"), (0, "b"), (0, "orphan")]


def test_lineage_of_two_records_diffs_their_specs():
    from refute.loop.lineage import lineage_of

    parent, child = two_records({"p": "inconclusive"}, {"p": "holds"}, "INCONCLUSIVE", "SUPPORTED")
    lin = lineage_of(parent, child)
    assert lin["parent"] == "parent" and lin["movement"]["verdict"] == ["INCONCLUSIVE", "SUPPORTED"]
    assert {c["field"]: (c["before"], c["after"]) for c in lin["changes"]} == {
        "seeds": ("0–2 (3 seeds)", "3–6 (4 seeds)")}
