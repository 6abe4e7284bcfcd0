"""A hypothesis's plan is sealed beside its file when the workflow starts, before any of its runs is trained,
noting the runs whose data had been seen by then."""

import json

from conftest import ROOT, write_yaml
from refute.layout import RUN_RECORD
from refute.spec.loader import load_all
from refute.spec.seal import plan_of, digest, read_seal
from refute.workflow.agenda import Agenda


def test_starting_the_workflow_seals_each_plan_with_the_runs_it_has_seen(tmp_path, tiny):
    hyps = tmp_path / "hypotheses"
    write_yaml(hyps / "tiny.yaml", tiny)
    child = {**tiny, "id": "tiny-wide", "refines": "tiny", "conditions": {"wide": {"model.params.width": 64}}}
    child["predictions"] = [{**tiny["predictions"][0], "condition": "wide"},
                            {**tiny["predictions"][0], "id": "fits-narrow", "condition": "narrow"}]
    child["conditions"]["narrow"] = {}  # the parent's own run
    write_yaml(hyps / "tiny-wide.yaml", child)
    other = {**tiny, "id": "later"}
    agenda = Agenda(load_all(hyps), tmp_path / "results")
    trained = agenda.layout.run_file(agenda.hypotheses["tiny"].runs["default"], RUN_RECORD)
    trained.parent.mkdir(parents=True)
    trained.write_text("{}")  # the parent's run was trained (and read) before the workflow started again

    agenda.write_inputs()
    parent, kid = (json.loads((hyps / ".sealed" / f"{i}.json").read_text()) for i in ("tiny", "tiny-wide"))
    shared = agenda.hypotheses["tiny"].runs["default"]
    assert parent["seen"] == {shared: "trained before the seal"}
    assert kid["seen"] == {shared: "trained before the seal"}
    assert kid["sha256"] == digest(plan_of(agenda.hypotheses["tiny-wide"]))

    # On a fresh clone (no results), a refinement still says which runs are its parent's.
    write_yaml(hyps / "later.yaml", other)
    (hyps / ".sealed/tiny-wide.json").unlink()
    fresh = Agenda(load_all(hyps), tmp_path / "clone-results")
    fresh.seal()
    assert read_seal(fresh.hypotheses["tiny-wide"])["seen"] == {shared: "a run of tiny, which this hypothesis refines"}
    assert read_seal(fresh.hypotheses["later"])["seen"] == {}
    assert json.loads((hyps / ".sealed/tiny.json").read_text()) == parent  # never rewritten


def test_every_bundled_hypothesis_is_sealed_and_its_seal_holds(tmp_path):
    """The committed seals make a fresh clone's verdicts pre-registered; each must match its plan."""
    for hyp in load_all(ROOT / "hypotheses"):
        sealed = read_seal(hyp)
        assert sealed is not None, f"{hyp.path} has no seal: run the workflow (or Agenda.seal) and commit it"
        assert sealed["sha256"] == digest(plan_of(hyp)), f"{hyp.id}: the plan changed after it was sealed"


def test_a_prediction_on_a_probe_also_reads_the_probes_reference_run(tiny):
    from conftest import plan_of as plan_from
    from refute.stats.preregistration import seen_by_prediction

    tiny["conditions"] = {"a": {}, "b": {"model.params.width": 16}}
    tiny["probes"] = [{"name": "cka", "site": "hidden.0", "between": "conditions", "reference": "b",
                       "conditions": ["a"]}]
    tiny["predictions"] = [{"id": "similar", "kind": "threshold", "condition": "a", "metric": "cka/cka@hidden.0",
                            "reduce": "final", "threshold": 0.5, "direction": "greater"},
                           {**tiny["predictions"][0], "condition": "a"}]
    hyp = plan_from(tiny)
    seen = seen_by_prediction(hyp, {hyp.runs["b"]: "trained before the seal"})
    assert seen == {"similar": [f"probe 'cka''s reference (run {hyp.runs['b']}): trained before the seal"],
                    "fits": []}
