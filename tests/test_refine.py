"""`refute refine`: the next experiment drafted from a verdict, written beside the parent, never run."""

import pytest
import yaml

from conftest import prediction_records, verdict_record, write_records, write_yaml
from refute.loop.refine import RefineError, write_draft
from refute.spec.loader import load_all, load_hypothesis


def analysed(tmp_path, spec: dict, verdict: str, status: dict[str, str], power: dict[str, int] | None = None):
    """A hypothesis file and the statistics stage's records for it (built from the record models), as if it
    had run."""
    path = write_yaml(tmp_path / "hypotheses" / f"{spec['id']}.yaml", spec)
    h = load_hypothesis(path)
    preds = prediction_records(h, status, power)
    write_records(tmp_path / "results", h, verdict_record(h, preds, verdict), preds)
    return path


def refine(tmp_path, hyp_id, **kw):
    path, draft = write_draft(hyp_id, tmp_path / "hypotheses", tmp_path / "results", **kw)
    return path, yaml.safe_load(path.read_text()), path.read_text()


def test_inconclusive_asks_for_four_times_the_seeds_fresh_ones_by_default(tmp_path, tiny):
    tiny["predictions"][0]["prior"] = 0.8
    analysed(tmp_path, tiny, "INCONCLUSIVE", {"fits": "inconclusive"})
    path, data, text = refine(tmp_path, "tiny")
    assert path == tmp_path / "hypotheses" / "tiny-more-seeds.yaml"
    assert data["id"] == "tiny-more-seeds" and data["refines"] == "tiny"
    assert data["seeds"] == list(range(3, 15))  # 4 × 3 seeds, none of the parent's 0..2
    assert "prior" not in data["predictions"][0]  # priors are stated anew, before seeing data
    assert "4× the parent's 3" in text and "Nothing has run" in text
    assert {h.id for h in load_all(tmp_path / "hypotheses")} == {"tiny", "tiny-more-seeds"}


def test_inconclusive_takes_the_power_analysis_of_the_undecided_predictions(tmp_path, tiny):
    tiny["predictions"].append({**tiny["predictions"][0], "id": "fits-well", "threshold": 0.9})
    analysed(tmp_path, tiny, "INCONCLUSIVE", {"fits": "holds", "fits-well": "inconclusive"},
             power={"fits": 40, "fits-well": 9})
    _, data, text = refine(tmp_path, "tiny")
    assert data["seeds"] == list(range(3, 12))
    assert "power analysis of fits-well" in text


def test_a_draft_never_replaces_a_file_and_refining_again_counts_up(tmp_path, tiny):
    analysed(tmp_path, tiny, "INCONCLUSIVE", {"fits": "inconclusive"})
    write_yaml(tmp_path / "hypotheses" / "tiny-more-seeds.yaml", {**tiny, "id": "someone-elses"})
    before = (tmp_path / "hypotheses" / "tiny-more-seeds.yaml").read_text()
    path, data, _ = refine(tmp_path, "tiny")
    assert data["id"] == "tiny-more-seeds-2" and path.name == "tiny-more-seeds-2.yaml"
    assert (tmp_path / "hypotheses" / "tiny-more-seeds.yaml").read_text() == before


def test_supported_drafts_a_generalization_over_model_width(tmp_path, tiny):
    tiny["conditions"] = {"default": {}, "control": {"model.params.init_scale": 0.5}}
    tiny["predictions"].append({"id": "beats-control", "kind": "compare", "conditions": ["default", "control"],
                                "metric": "train_acc", "reduce": "final", "direction": "greater"})
    tiny["alternatives"] = [{"id": "init", "explanation": "the init", "conditions": ["control"],
                             "predictions": ["beats-control"]}]
    analysed(tmp_path, tiny, "SUPPORTED", {"fits": "holds", "beats-control": "holds"})
    path, data, text = refine(tmp_path, "tiny")
    assert data["id"] == "tiny-general" and data["sweep"] == {"model.params.width": [16, 32, 64]}
    preds = {p["id"]: p for p in data["predictions"]}
    assert list(preds) == ["fits-width-16", "fits-width-32", "fits-width-64",
                           "beats-control-width-16", "beats-control-width-32", "beats-control-width-64"]
    assert preds["beats-control-width-64"]["conditions"] == ["default_width=64", "control_width=64"]
    assert data["alternatives"][0]["conditions"] == ["control_width=16", "control_width=32", "control_width=64"]
    assert data["alternatives"][0]["predictions"] == ["beats-control-width-16", "beats-control-width-32",
                                                      "beats-control-width-64"]
    h = load_hypothesis(path)
    assert h.conditions["control_width=16"].model.params.init_scale == 0.5
    assert "6 predictions now: p is corrected across them (holm" in text


def test_a_generalization_of_a_sweep_widens_it_at_its_own_spacing(tmp_path, tiny):
    tiny["sweep"] = {"model.params.width": [16, 32]}
    tiny["predictions"] = [{**tiny["predictions"][0], "id": f"fits-width-{w}", "condition": f"width={w}"}
                           for w in (16, 32)]
    analysed(tmp_path, tiny, "SUPPORTED", {"fits-width-16": "holds", "fits-width-32": "holds"})
    _, data, _ = refine(tmp_path, "tiny")
    assert data["sweep"] == {"model.params.width": [8, 16, 32, 64]}
    assert {p["id"]: p["condition"] for p in data["predictions"]} == {
        "fits-width-16": "width=16", "fits-width-8": "width=8", "fits-width-32": "width=32", "fits-width-64": "width=64"}


def test_refuted_where_a_sweep_changes_outcome_probes_between(tmp_path, tiny):
    tiny["sweep"] = {"model.params.width": [16, 64]}
    tiny["predictions"] = [{**tiny["predictions"][0], "id": f"fits-width-{w}", "condition": f"width={w}"}
                           for w in (16, 64)]
    analysed(tmp_path, tiny, "REFUTED", {"fits-width-16": "contradicted", "fits-width-64": "holds"})
    _, data, text = refine(tmp_path, "tiny")
    assert data["id"] == "tiny-boundary"
    assert data["sweep"] == {"model.params.width": [16, 23, 32, 45, 64]}  # geometric steps between
    assert "hold at 64 and are contradicted at 16" in text


def test_refuted_at_one_setting_probes_widely_around_it(tmp_path, tiny):
    analysed(tmp_path, tiny, "REFUTED", {"fits": "contradicted"})
    _, data, _ = refine(tmp_path, "tiny")
    assert data["sweep"] == {"model.params.width": [8, 16, 32, 64, 128]}
    assert len(data["predictions"]) == 5


def test_axis_and_values_can_be_chosen(tmp_path, tiny):
    analysed(tmp_path, tiny, "SUPPORTED", {"fits": "holds"})
    _, data, _ = refine(tmp_path, "tiny", axis="train.lr", values=[0.003, 0.01, 0.03, -1.0])
    assert data["sweep"] == {"train.lr": [0.003, 0.01, 0.03]}  # an invalid value is dropped
    assert [p["id"] for p in data["predictions"]] == ["fits-lr-0p003", "fits-lr-0p01", "fits-lr-0p03"]


@pytest.mark.parametrize("verdict, expected", [("INVALID", "fix the runs"), (None, "no verdict yet")])
def test_no_draft_without_a_usable_verdict(tmp_path, tiny, verdict, expected):
    if verdict:
        analysed(tmp_path, tiny, verdict, {"fits": "holds"})
    else:
        write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    with pytest.raises(RefineError, match=expected):
        refine(tmp_path, "tiny")
    assert [p.name for p in (tmp_path / "hypotheses").iterdir()] == ["tiny.yaml"]


def test_no_draft_from_a_verdict_the_file_has_moved_past(tmp_path, tiny):
    path = analysed(tmp_path, tiny, "SUPPORTED", {"fits": "holds"})
    path.write_text(path.read_text().replace("steps: 150", "steps: 200"))
    with pytest.raises(RefineError, match="changed since its verdict"):
        refine(tmp_path, "tiny")


@pytest.mark.parametrize("verdict,status", [("SUPPORTED", "holds"), ("REFUTED", "contradicted")])
def test_every_draft_trains_fresh_seeds_and_shares_no_run_with_its_parent(tmp_path, tiny, verdict, status):
    """A generalization or boundary draft re-tests the parent's own setting too: on new runs, not the parent's."""
    tiny["conditions"] = {"a": {}, "b": {"model.params.init_scale": 0.5}, "a-again": {"seeds": [7, 8, 9]}}
    tiny["predictions"] = [{"id": "a-beats-b", "kind": "compare", "conditions": ["a", "b"], "test": "paired_t",
                            "metric": "train_acc", "reduce": "final", "direction": "greater"}]
    parent = load_hypothesis(analysed(tmp_path, tiny, verdict, {"a-beats-b": status}))
    path, data, text = refine(tmp_path, "tiny")
    child = load_hypothesis(path)
    assert not set(child.runs.values()) & set(parent.runs.values())
    assert data["seeds"] == [10, 11, 12]  # after every seed the parent used, as many as it had
    assert data["conditions"]["a-again"]["seeds"] == [13, 14, 15]  # its own seeds stay its own
    assert "Fresh seeds 10–12, disjoint from the parent's" in text


@pytest.mark.parametrize("predictions, seeds", [(1, 5), (3, 6)])
def test_without_a_power_analysis_a_draft_has_at_least_the_runs_an_exact_test_can_decide_with(
        tmp_path, tiny, predictions, seeds):
    # One seed: no test ran. 4 × 1 seeds at a ceiling could never decide (1/2⁴ > 0.05); the draft takes the
    # fewest n with 1/2ⁿ < α/k: 5 for one prediction, 6 for three under Holm.
    tiny["seeds"] = 1
    tiny["predictions"] = [{**tiny["predictions"][0], "id": f"fits-{i}"} for i in range(predictions)]
    analysed(tmp_path, tiny, "INCONCLUSIVE", {f"fits-{i}": "inconclusive" for i in range(predictions)})
    _, data, text = refine(tmp_path, "tiny")
    assert data["seeds"] == list(range(1, 1 + seeds))
    assert "all at one value (a ceiling)" in text.replace("\n# ", " ")
