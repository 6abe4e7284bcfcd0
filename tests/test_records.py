"""The statistics stage's records: typed, written as JSON every reader can read back, always verified, and
the one thing later stages read besides the plan file: none of them reads a hypothesis file."""

import json
import math

import pytest

import refute.spec.loader
import refute.spec.yamlfile
from conftest import ROOT, TINY, plan_of, prediction_records, result_record, verdict_record, write_plan_file, \
    write_records, write_yaml
from refute import io
from refute.stats import records


def test_non_finite_numbers_are_written_as_strings_and_read_back_as_floats(tmp_path):
    plan = plan_of(TINY)
    preds = prediction_records(plan, {"fits": "inconclusive"}, statistic=math.inf, p=math.nan, ci=(-math.inf, 1.0))
    write_records(tmp_path, plan, verdict_record(plan, preds, "INCONCLUSIVE"), preds)
    raw = json.loads((tmp_path / "tiny" / "predictions.json").read_text())[0]["result"]
    assert raw["statistic"] == "inf" and raw["p"] == "nan" and raw["ci"] == ["-inf", 1.0]
    [back] = records.read(tmp_path, "tiny").predictions
    assert back.result.statistic == math.inf and math.isnan(back.result.p) and back.result.ci == (-math.inf, 1.0)


def test_a_prediction_record_carries_the_conditions_its_kind_reads(tmp_path):
    data = {**TINY, "conditions": {"a": {}, "b": {"train.lr": 0.02}},
            "predictions": [{"id": "a-beats-b", "kind": "compare", "conditions": ["a", "b"], "metric": "train_acc",
                             "reduce": "final", "direction": "greater"},
                            {"id": "fits", "kind": "threshold", "condition": "b", "metric": "train_acc",
                             "reduce": "final", "threshold": 0.5, "direction": "greater"}]}
    preds = prediction_records(plan_of(data), {"a-beats-b": "holds", "fits": "holds"})
    assert [p.conditions for p in preds] == [["a", "b"], ["b"]]


def test_a_record_of_another_shape_is_refused(tmp_path):
    plan = plan_of(TINY)
    preds = prediction_records(plan, {"fits": "holds"})
    write_records(tmp_path, plan, verdict_record(plan, preds, "SUPPORTED"), preds)
    path = tmp_path / "tiny" / "verdict.json"
    data = json.loads(path.read_text())
    data["verdict"] = "PROBABLY"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="verdict"):
        records.read(tmp_path, "tiny")


@pytest.mark.parametrize("name", ["predictions.json", "reduced.parquet", "observations.parquet", "probes.parquet"])
def test_every_reader_goes_through_the_checksums(tmp_path, name):
    plan = plan_of(TINY)
    preds = prediction_records(plan, {"fits": "holds"})
    write_records(tmp_path, plan, verdict_record(plan, preds, "SUPPORTED"), preds)
    path = tmp_path / "tiny" / name
    path.write_bytes(path.read_bytes()[:-1] + bytes([path.read_bytes()[-1] ^ 1]))
    with pytest.raises(io.CorruptOutput, match=name.replace(".", r"\.")):
        records.read(tmp_path, "tiny")  # the index, refine and status read this; the reports read `load`


def test_stats_report_index_refine_and_status_never_read_a_hypothesis_file(tmp_path, monkeypatch):
    from refute.loop.refine import write_draft
    from refute.loop.status import status
    from refute.report.html import write_html_report
    from refute.report.index import write_index
    from refute.report.markdown import write_report
    from refute.spec.loader import load_hypothesis
    from refute.stats.analyse import analyse
    from refute.training.job import train_run
    from refute import layout
    from refute.workflow.agenda import Agenda, load_all

    hyps, results = tmp_path / "hypotheses", tmp_path / "results"
    write_yaml(hyps / "tiny.yaml", {**TINY, "seeds": 2, "train": {**TINY["train"], "steps": 100}})
    workflow = Agenda(load_all(hyps), results)  # what the workflow does before the statistics: runs, plan file
    for h in workflow.runs:
        spec = workflow.layout.run_file(h, layout.RUN_SPEC)
        workflow.write_run_spec(h, spec)
        train_run(spec, workflow.layout.run_dir(h))
    plan_file = write_plan_file(load_hypothesis(hyps / "tiny.yaml"), results)
    assert str(plan_file) == workflow.plan_file("tiny")  # the name the workflow gives it

    def refuse(*args, **kwargs):
        raise AssertionError("a later stage read a hypothesis file")

    monkeypatch.setattr(refute.spec.yamlfile, "read_yaml", refuse)
    monkeypatch.setattr(refute.spec.loader, "read_yaml", refuse)
    verdict = analyse(plan_file, results)
    assert verdict.plan == plan_file.stem
    assert write_report("tiny", results).exists() and write_html_report("tiny", results).exists()
    assert "tiny" in write_index([plan_file], results)[0].read_text()
    path, draft = write_draft("tiny", hyps, results)
    assert path.exists() and draft.data["refines"] == "tiny"
    path.unlink()
    # Snakemake (a subprocess) reads the hypothesis files to plan its DAG; status itself does not.
    [row] = status("results", ROOT / "Snakefile", tmp_path)
    assert (row.id, row.verdict) == ("tiny", verdict.verdict)
