"""Explorations: validated like hypotheses (file:line: field), planned into shared runs, observed, reported,
and drafted into ordinary hypotheses on fresh seeds that never reuse an exploration run."""

import copy

import numpy as np
import pytest

from conftest import TINY, write_yaml
from refute.components.events import EVENTS, holm, slug
from refute.components.events.planted import planted
from refute.spec.errors import SpecError
from refute.spec.exploration import load_exploration, load_explorations
from refute.spec.loader import load_hypothesis, plan_data

EXPLORATION = {
    "id": "lr-scan",
    "title": "What changes with the learning rate",
    "question": "How do the curves of a small MLP on (a + b) mod 11 change with the learning rate?",
    **{k: copy.deepcopy(TINY[k]) for k in ("task", "model", "train", "seeds", "observables")},
    "sweep": {"train.lr": [1, 2, 4, 8, 16]},
}


def exploration(tmp_path, **changes):
    data = copy.deepcopy(EXPLORATION)
    data.update(changes)
    return write_yaml(tmp_path / "explorations" / f"{data['id']}.yaml", data)


def test_an_exploration_plans_runs_like_a_hypothesis_with_the_same_spec(tmp_path):
    plan = load_exploration(exploration(tmp_path))
    assert list(plan.runs) == ["lr=1", "lr=2", "lr=4", "lr=8", "lr=16"]
    assert plan.coords["lr=4"] == {"train.lr": 4}
    hyp = dict(copy.deepcopy(TINY), conditions={"fast": {"train.lr": 4}})
    hyp["predictions"][0]["condition"] = "fast"
    assert plan_data(hyp, "h.yaml").runs["fast"] == plan.runs["lr=4"]  # the same training: one run, shared


def test_an_exploration_has_no_predictions_and_its_errors_name_file_line_and_field(tmp_path):
    path = exploration(tmp_path, predictions=[], look={"events": ["transition", "nonsense"], "metrics": ["val_acc", "nope"]})
    with pytest.raises(SpecError) as err:
        load_exploration(path)
    text = str(err.value)
    assert f"{path}:" in text and "predictions" in text
    assert "unknown name 'nonsense'" in text and "look.events.1" in text
    path = exploration(tmp_path, look={"metrics": ["val_acc", "nope"]})
    with pytest.raises(SpecError, match=r"lr-scan.yaml:\d+: look.metrics.1: metric 'nope' is never logged"):
        load_exploration(path)


def test_an_exploration_folder_that_does_not_exist_holds_none(tmp_path):
    assert load_explorations(tmp_path / "nowhere") == []


def _observed(tmp_path, kind, effect=6.0, seeds=16):
    """A real exploration plan over lr = 1..16, with observations where an event of `kind` is planted."""
    plan = load_exploration(exploration(tmp_path, seeds=3, look={"reductions": ["final", "max"], "events": [
        "transition", "optimum", "split", "power_law",
        {"name": "boundary", "reach": [{"metric": "train_acc", "reduce": "max", "above": 0.9}]}]}))
    obs = planted(kind, effect, seeds, np.random.default_rng(5))
    obs.overrides = plan.overrides
    events = []
    for spec in plan.exploration.look.events:
        if spec.name == "boundary":  # the planted metric is 'a'; a divergence boundary needs no threshold
            reach = [] if kind == "divergence" else [spec.reach[0].model_copy(update={"metric": "a", "above": 10})]
            spec = spec.model_copy(update={"reach": reach})
        events += EVENTS.get(spec.name).impl.detect(spec, obs)
    events = [e.model_copy(update={"p_adjusted": p}) for e, p in zip(events, holm([e.p for e in events]))]
    detector = "boundary" if kind == "divergence" else kind
    return plan, obs, [e for e in events if e.p_adjusted <= 0.05 and e.detector == detector]


# Every detector's event kind is drafted; each draft's predictions read the event's metric in its conditions.
@pytest.mark.parametrize("kind, effect, seeds", [("transition", 6.0, 16), ("optimum", 6.0, 16), ("split", 8.0, 24),
                                                 ("power_law", 6.0, 16), ("boundary", 6.0, 16),
                                                 ("divergence", 6.0, 16)])
def test_a_draft_is_a_valid_hypothesis_on_fresh_seeds_whose_runs_the_exploration_never_trained(tmp_path, kind, effect,
                                                                                               seeds):
    from refute.loop.discover import draft_for

    plan, obs, events = _observed(tmp_path, kind, effect, seeds)
    assert events
    event = events[0]
    d = draft_for(plan, obs, event, set(), tmp_path / "results")
    preds = d.data["predictions"]
    # the predictions target the event: its metric (a divergence boundary: divergence), in its conditions
    if kind == "divergence":
        assert [p["meets"] for p in preds] == [{"diverged": False}, {"diverged": True}]
        assert [p["conditions"] for p in preds] == [[slug(event.stats["reach"])], [slug(event.stats["fail"])]]
    else:
        assert {p["metric"] for p in preds} == {event.metric}
    read = {c for p in preds for c in p.get("conditions", [p.get("condition")])}
    assert read and read <= {slug(c) for c in event.conditions}
    # the planted metric 'a' is not logged by the tiny MLP: give the draft a metric it logs, to validate it
    for p in preds:
        p["metric"] = "train_acc" if kind == "boundary" else "train_loss"
    hyp = plan_data(d.data, "draft.yaml")
    assert hyp.hypothesis.exploration == plan.id
    assert set(hyp.hypothesis.seeds).isdisjoint({s for r in plan.conditions.values() for s in r.seeds})
    assert len(hyp.hypothesis.seeds) >= 5
    assert set(hyp.runs.values()).isdisjoint(plan.runs.values())
    path = tmp_path / "hypotheses" / f"{d.id}.yaml"
    write_yaml(path, "")
    path.write_text(d.text(plan.id))
    assert load_hypothesis(path).hypothesis.predictions  # the header is a comment; the file loads as it is
    assert f"from event {events[0].id}" in path.read_text().replace("\n# ", " ")
    assert f"# drafted from event: {plan.id}/{events[0].id}\n" in path.read_text()


def test_discover_on_a_real_exploration_writes_drafts_that_validate_and_the_index_counts_them(tmp_path):
    """Train a tiny exploration for real, observe it, report it, discover, and index."""
    from refute import layout
    from refute.loop.discover import write_drafts
    from refute.report.index import write_index
    from refute.report.observation import write_observation_report
    from refute.stats.observe import observe
    from refute.training.job import train_run
    from refute.workflow.agenda import load_agenda

    train = dict(TINY["train"], eval_every=10)  # 16 evaluations: enough to scan for transitions
    exploration(tmp_path, seeds=3, train=train, sweep={"train.lr": [0.003, 0.01, 0.03]},
                look={"metrics": ["train_acc", "train_loss"]})
    (tmp_path / "hypotheses").mkdir()
    results = tmp_path / "results"
    agenda = load_agenda(tmp_path / "hypotheses", results, explorations=tmp_path / "explorations")
    agenda.write_inputs()
    L = agenda.layout
    for h in agenda.runs:
        train_run(L.run_file(h, layout.RUN_SPEC), L.run_dir(h))
    record = observe(agenda.exploration_plan_file("lr-scan"), results)
    assert record["candidates"] > 0 and record["alpha"] == 0.05
    md, html = write_observation_report("lr-scan", results)
    text = md.read_text()
    assert "## Events found" in text and "## Curves by condition" in text and "train_acc" in text
    assert "<img" in html.read_text()
    written = write_drafts("lr-scan", tmp_path / "hypotheses", results)
    assert len(written) == len(record["found"])
    for path, d in written:
        assert load_hypothesis(path).hypothesis.exploration == "lr-scan"
    assert write_drafts("lr-scan", tmp_path / "hypotheses", results) == []  # never drafted twice
    write_index([], results, agenda.exploration_plan_files())
    index = (results / "index.md").read_text()
    assert "## Explorations" in index and "lr-scan" in index
    # `refute status` lists it observed, with its events and the drafts the agenda holds
    import re

    from conftest import ROOT, refute_cli

    out = refute_cli(tmp_path, "status", "--snakefile", str(ROOT / "Snakefile"))
    assert out.returncode == 0, out.stderr
    n = len(record["found"])
    assert re.search(rf"^lr-scan\s+(done|stale.*)\s+{n}\s+{n}$", out.stdout, re.M), out.stdout


@pytest.mark.slow
def test_exploration_discover_draft_verdict_end_to_end(tmp_path):
    """A small copy of the bundled chain: a deep linear network learns its teacher's weaker modes after a
    plateau; the exploration finds it, discover drafts it, and the draft, on fresh seeds, is SUPPORTED."""
    import shutil

    import yaml

    from conftest import ROOT, run_pipeline
    from refute import layout
    from refute.loop.discover import write_drafts
    from refute.stats.observe import observe
    from refute.training.job import train_run
    from refute.workflow.agenda import load_agenda

    data = yaml.safe_load((ROOT / "explorations" / "deep-linear-modes.yaml").read_text())
    data["seeds"] = 4
    data["look"]["metrics"] = ["mode_strength_4"]
    write_yaml(tmp_path / "explorations" / "deep-linear-modes.yaml", data)
    (tmp_path / "hypotheses").mkdir()
    results = tmp_path / "results"
    agenda = load_agenda(tmp_path / "hypotheses", results, explorations=tmp_path / "explorations")
    agenda.write_inputs()
    for h in agenda.runs:
        train_run(agenda.layout.run_file(h, layout.RUN_SPEC), agenda.layout.run_dir(h))
    record = observe(agenda.exploration_plan_file("deep-linear-modes"), results)
    assert [e["detector"] for e in record["found"]] == ["transition"]
    assert record["found"][0]["conditions"] == ["layers=2"]  # stagewise learning is a property of depth
    (path, draft), = write_drafts("deep-linear-modes", tmp_path / "hypotheses", results)
    verdicts = run_pipeline(tmp_path / "hypotheses", results)
    assert verdicts[draft.id]["verdict"] == "SUPPORTED"
    assert not set(agenda.runs) & set(verdicts[draft.id]["runs"][c]["hash"] for c in verdicts[draft.id]["runs"])
    shutil.rmtree(results / "runs")  # (large)


def test_a_draft_that_reuses_an_exploration_run_is_sealed_with_that_run_seen(tmp_path):
    """Fresh seeds are what keeps exploration runs out of a draft's evidence; a draft edited back onto the
    exploration's seeds reads runs seen before its seal, and its seal says so."""
    import json

    from refute.workflow.agenda import load_agenda

    exploration(tmp_path)
    hyp = dict(copy.deepcopy(TINY), id="reuses", exploration="lr-scan", conditions={"fast": {"train.lr": 4}})
    hyp["predictions"][0]["condition"] = "fast"
    write_yaml(tmp_path / "hypotheses" / "reuses.yaml", hyp)
    agenda = load_agenda(tmp_path / "hypotheses", tmp_path / "results", explorations=tmp_path / "explorations")
    agenda.seal()
    seen = json.loads((tmp_path / "hypotheses/.sealed/reuses.json").read_text())["seen"]
    run = agenda.explorations["lr-scan"].runs["lr=4"]
    assert seen == {run: "a run of lr-scan, which this hypothesis was drafted from"}


def test_plan_dry_run_and_status_include_explorations(tmp_path):
    """`refute plan`, `snakemake -n` and `refute status` (the real commands) list an exploration's runs and its
    observation jobs beside the hypotheses'."""
    import re
    import subprocess
    import sys

    from conftest import ROOT, refute_cli

    exploration(tmp_path, sweep={"train.lr": [0.003, 0.01, 0.03]})
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", TINY)
    out = refute_cli(tmp_path, "plan", "--cores", "2", "--no-pack")  # one job per run (packing: tests/test_packing.py)
    assert out.returncode == 0, out.stderr
    assert "Plan for exploration lr-scan (explorations/lr-scan.yaml)" in out.stdout
    assert re.search(r"^  lr=0\.01\s+[0-9a-f]{16}\s+3 .* to train \(shared with tiny:default\)", out.stdout, re.M)
    assert "1 observe, 1 observation_report" in out.stdout and "Models to train: 9" in out.stdout
    out = refute_cli(tmp_path, "plan", "lr-scan", "--cores", "2", "--no-pack")
    assert "Plan for tiny" not in out.stdout and "Plan for exploration lr-scan" in out.stdout
    assert re.search(r"Jobs to run: 5 \(3 train, 1 observe, 1 observation_report\)", out.stdout), out.stdout
    out = refute_cli(tmp_path, "plan", "nope")
    assert out.returncode == 1 and "no hypothesis or exploration with id 'nope'" in out.stderr

    dry = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                          "--cores", "2", "-n"], capture_output=True, text=True, timeout=600)
    text = dry.stdout + dry.stderr
    assert dry.returncode == 0, text[-3000:]
    assert "Plan for exploration lr-scan" in text and "1 observe, 1 observation_report" in text
    assert re.search(r"^observe\s+1$", text, re.M) and re.search(r"^observation_report\s+1$", text, re.M)
    assert not (tmp_path / "results").exists()
    dry = refute_cli(tmp_path, "run", "-n", "lr-scan", "--snakefile", str(ROOT / "Snakefile"))
    assert dry.returncode == 0, dry.stderr
    assert "results/explorations/lr-scan/report.md" in dry.stderr  # the exploration's target: its report
    assert re.search(r"^observe\s+1$", dry.stdout, re.M) and not re.search(r"^stats\s", dry.stdout, re.M)

    out = refute_cli(tmp_path, "status", "--snakefile", str(ROOT / "Snakefile"))
    assert out.returncode == 0, out.stderr
    assert re.search(r"^exploration\s+state\s+events found\s+drafts$", out.stdout, re.M), out.stdout
    assert re.search(r"^lr-scan\s+not run\s+—\s+0$", out.stdout, re.M), out.stdout


@pytest.mark.slow
def test_the_bundled_exploration_of_a_setting_with_no_effect_finds_nothing_and_drafts_nothing(tmp_path):
    """digits-noise-seed sweeps a seed that chooses nothing (no label is noisy): through the real workflow its
    observation report lists no event, and `refute discover` says so and writes no draft."""
    import shutil
    import subprocess
    import sys

    from conftest import ROOT, refute_cli

    (tmp_path / "explorations").mkdir()
    (tmp_path / "hypotheses").mkdir()
    shutil.copy(ROOT / "explorations" / "digits-noise-seed.yaml", tmp_path / "explorations")
    target = "results/explorations/digits-noise-seed/report.md"
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                           "--cores", "2", target], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    report = (tmp_path / target).read_text()
    assert "## Events found (0)" in report and "Nothing was found: `refute discover` drafts nothing." in report
    out = refute_cli(tmp_path, "discover", "digits-noise-seed")
    assert out.returncode == 0, out.stderr
    assert "No drafts: digits-noise-seed found no event" in out.stdout and "nothing was written" in out.stdout
    assert list((tmp_path / "hypotheses").iterdir()) == []
    shutil.rmtree(tmp_path / "results" / "runs")  # (large)
