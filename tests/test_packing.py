"""Runs with the same shapes train as one batched model (a pack, issue 17), and each gets exactly the numbers it
gets alone: trained alone, in a pack of 2 and in a pack of many, a run's metrics, weights and snapshots are the
same bit for bit, whatever its neighbours' learning rate, weight decay, optimizer, schedule, clipping, initial
scale, data and seeds."""

import pandas as pd
import pytest
import torch

from refute.spec.packing import pack_key
from refute.spec.schema import RunSpec
from refute.training.loop import fit, fit_pack
from tests.test_chunk_invariance import CASES, run_spec

QUIET = dict(log=lambda m: None)


def variant(case: str, seeds: list[int], **change) -> RunSpec:
    """The case's run with `train`, `model` or `task` parameters changed (dotted: train.lr, model.init_scale)."""
    spec = run_spec(case, seeds).model_dump(mode="json")
    for dotted, value in change.items():
        part, name = dotted.split(".")
        target = spec[part] if part == "train" else spec[part]["params"]
        target[name] = value
    return RunSpec.model_validate(spec)


def assert_same_run(alone, packed) -> None:
    pd.testing.assert_frame_equal(alone.metrics, packed.metrics, check_exact=True)
    assert alone.seeds == packed.seeds and alone.diverged == packed.diverged
    assert alone.state.keys() == packed.state.keys()
    for k in alone.state:
        assert torch.equal(alone.state[k], packed.state[k]), k
    assert alone.snapshots.keys() == packed.snapshots.keys()
    for step in alone.snapshots:
        for k in alone.snapshots[step]:
            assert torch.equal(alone.snapshots[step][k], packed.snapshots[step][k]), (step, k)


def neighbours(case: str) -> list[RunSpec]:
    """Runs that pack with the case's run: other rates, decay, clipping, schedule, initial scale, seeds, data."""
    task = CASES[case][0]["params"]
    data_seed = {"split_seed": 3} if "train_fraction" in task else {"data_seed": 4} if "n_val" in task else {}
    out = [
        variant(case, [0, 1, 2, 3]),
        variant(case, [0, 1, 2], **{"train.lr": 0.003, "train.weight_decay": 0.2}),
        variant(case, [5], **{"train.grad_clip": 0.05, "train.eval_every": 5}),
        variant(case, [1, 8], **{"model.init_scale": 0.5, "train.schedule": "cosine", "train.snapshots": [0, 7]}),
    ]
    if data_seed:
        out.append(variant(case, [0, 2], **{f"task.{k}": v for k, v in data_seed.items()}, **{"train.lr": 0.02}))
    return out


@pytest.mark.parametrize("case", CASES)
def test_a_run_packed_with_others_gets_the_numbers_it_gets_alone(case):
    runs = neighbours(case)
    assert len({pack_key(r) for r in runs}) == 1, "the neighbours must be packable with the run"
    alone = [fit(r, **QUIET) for r in runs]
    for i, r in enumerate(fit_pack(runs, **QUIET)):  # a pack of all of them
        assert_same_run(alone[i], r)
    for i, r in zip((2, 0), fit_pack([runs[2], runs[0]], **QUIET)):  # a pack of two, in another order
        assert_same_run(alone[i], r)


def test_runs_of_other_shapes_do_not_pack():
    base = run_spec("mlp-tokens-adamw", [0, 1])
    assert pack_key(base) == pack_key(variant("mlp-tokens-adamw", [3], **{"train.lr": 0.5, "model.init_scale": 2.0}))
    for change in ({"model.width": 34}, {"train.batch_size": 9}, {"train.steps": 21}, {"task.p": 13},
                   {"task.train_fraction": 0.6}):
        other = variant("mlp-tokens-adamw", [0, 1], **change)
        assert pack_key(base) != pack_key(other), change


# --- which runs a workflow packs ------------------------------------------------------------------------------

def small(lr: float, seeds: int = 4, width: int = 16, **train) -> RunSpec:
    return RunSpec.model_validate({
        "task": {"name": "sparse_parity", "params": {"n_bits": 12, "k": 3, "online": True}},
        "model": {"name": "mlp", "params": {"width": width}},
        "train": {"optimizer": "adam", "lr": lr, "steps": 50, "eval_every": 25, "batch_size": 8, **train},
        "seeds": seeds, "observables": ["loss"]})


def plan(runs: list[RunSpec], **kw) -> list[list[int]]:
    """The packs plan_packs makes of `runs`, as lists of their positions."""
    from refute.spec.hashing import run_hash
    from refute.workflow.packs import plan_packs

    by_hash = {run_hash(r): r for r in runs}
    index = {run_hash(r): i for i, r in enumerate(runs)}
    made = plan_packs(by_hash, list(by_hash), lambda h: "auto", **kw)
    return sorted(sorted(index[h] for h in members) for members in made.values())


def test_pending_runs_of_one_shape_make_one_pack_and_other_shapes_their_own():
    wider = {"name": "mlp", "params": {"width": 24}}
    runs = [small(lr) for lr in (1e-3, 2e-3, 3e-3)] + [
        RunSpec.model_validate({**small(lr).model_dump(mode="json"), "model": wider}) for lr in (1e-3, 2e-3)]
    assert plan(runs) == [[0, 1, 2], [3, 4]]


def test_a_pack_holds_no_more_seeds_than_one_batched_step_and_fits_the_memory_limit():
    from refute.scaling import costs, tuning
    from refute.spec.blueprint import blueprint

    wide = dict(width=2048, batch_size=512)
    lanes = tuning.seeds_per_chunk(blueprint(small(1e-3, **wide)).step_flops(1), 1 << 30)
    per_run = lanes // 2 + 1  # two such runs overflow one batched step
    runs = [small(lr, seeds=per_run, **wide) for lr in (1e-3, 2e-3, 3e-3, 4e-3)]
    assert plan(runs) == []  # no two fit together: every run is its own job
    runs = [small(lr, seeds=8, **wide) for lr in (1e-3, 2e-3, 3e-3, 4e-3)]
    two, three = (costs.mem_mb(costs.pack_cost([costs.job_cost(runs[0])] * k), "cpu") for k in (2, 3))
    assert two < three
    assert [len(p) for p in plan(runs, mem_limit_mb=two)] == [2, 2]


def test_packs_are_split_so_that_every_core_has_a_job():
    runs = [small(lr) for lr in (1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3)]
    assert plan(runs, cores=1) == [[0, 1, 2, 3, 4, 5]]
    assert [len(p) for p in plan(runs, cores=2)] == [3, 3]
    assert [len(p) for p in plan(runs, cores=3)] == [2, 2, 2]
    assert plan(runs, cores=2, other_jobs=1) == [[0, 1, 2, 3, 4, 5]]  # another job already keeps a core busy


def test_a_pack_resumed_from_its_checkpoint_gives_each_run_its_numbers(tmp_path):
    from test_faults import Crash, CrashAfterSaving

    from refute.training.checkpoint import Checkpoint

    runs = neighbours("mlp-nesterov-cosine")  # momentum, a schedule, clipping and other data among them
    alone = [fit(r, **QUIET) for r in runs]
    with pytest.raises(Crash):
        fit_pack(runs, checkpoint=CrashAfterSaving(tmp_path / "checkpoint.pt", "pack", 13), **QUIET)
    logged = []
    resumed = fit_pack(runs, checkpoint=Checkpoint(tmp_path / "checkpoint.pt", "pack", log=logged.append))
    assert "resuming from the checkpoint at step 13" in logged
    for a, r in zip(alone, resumed):
        assert_same_run(a, r)


# --- through the real workflow ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_workflow_trains_a_sweep_in_one_pack_with_the_files_each_run_gets_alone(tmp_path, tiny):
    import json
    import subprocess
    import sys

    from conftest import FITS_BY_LOSS, ROOT, write_yaml
    from refute import io

    def snakemake(project, *args):
        return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(project),
                               "--cores", "1", *args], capture_output=True, text=True, timeout=600)

    tiny["predictions"] = [{**FITS_BY_LOSS, "condition": "mid"}]
    tiny["conditions"] = {"slow": {"train.lr": 0.003}, "mid": {"train.lr": 0.01}, "fast": {"train.lr": 0.03}}
    for project in ("packed", "alone"):
        write_yaml(tmp_path / project / "hypotheses" / "tiny.yaml", tiny)
    out = snakemake(tmp_path / "packed")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "as one batched model" in out.stderr and "(run " not in out.stderr  # no job of its own for any run
    assert snakemake(tmp_path / "alone", "--config", "pack_runs=false").returncode == 0

    runs = sorted(p.name for p in (tmp_path / "packed/results/runs").iterdir())
    assert len(runs) == 3 and runs == sorted(p.name for p in (tmp_path / "alone/results/runs").iterdir())
    tables = lambda project, run: {f: io.sha256(tmp_path / project / "results/runs" / run / f)  # noqa: E731
                                   for f in ("metrics.parquet", "weights.pt", "snapshots.pt")}
    for run in runs:
        assert tables("packed", run) == tables("alone", run), run
        record = json.loads((tmp_path / "packed/results/runs" / run / "run.json").read_text())
        assert sorted(record["pack"]["runs"]) == runs
    verdict = lambda project: json.loads((tmp_path / project / "results/tiny/verdict.json").read_text())  # noqa: E731
    assert verdict("packed")["verdict"] == verdict("alone")["verdict"] == "SUPPORTED"

    # Done is done, whichever job made it; a deleted run is made again by its own job, bit for bit.
    again = snakemake(tmp_path / "packed")
    assert "Nothing to be done" in again.stdout + again.stderr
    import shutil

    shutil.rmtree(tmp_path / "packed/results/runs" / runs[1])
    out = snakemake(tmp_path / "packed")
    assert out.returncode == 0 and f"(run {runs[1]};" in out.stderr and "as one batched model" not in out.stderr
    assert tables("packed", runs[1]) == tables("alone", runs[1])
    again = snakemake(tmp_path / "packed")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_jobs_own_snakemake_finds_the_packs_its_workflow_wrote(tmp_path, tiny):
    """On a cluster node the job's Snakemake parses the workflow again, when other runs may have finished: it reads
    the packs the workflow wrote (and claims no run for a pack alone), so the job it was given exists there."""
    from conftest import write_yaml
    from refute.workflow.agenda import load_agenda

    tiny["conditions"] = {"a": {"train.lr": 0.01}, "b": {"train.lr": 0.02}, "c": {"train.lr": 0.03}}
    tiny["predictions"][0]["condition"] = "a"
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    load = lambda pack: load_agenda(tmp_path / "hypotheses", tmp_path / "results", explorations=None,  # noqa: E731
                                    pack=pack, cores=1)
    planned = load(True)
    [(pack, members)] = planned.packs.items()
    assert len(members) == 3 and all(h not in planned.run_pattern(chunked=False) for h in members)
    planned.write_inputs()
    (tmp_path / "results/runs" / members[0] / "run.json").write_text("{}")  # one of them finished meanwhile

    assert load(True).packs != planned.packs  # what the workflow would plan now
    node = load("written")
    assert node.packs == {pack: members}
    assert all(h in node.run_pattern(chunked=False) for h in members)
    assert load(False).packs == {}
