"""The trainer's automatic tuning: threads and seed chunks follow the size of the work, chunks match one
batched model to float rounding, block-drawn minibatches are exactly those drawn step by step, and a
kill in a later chunk loses nothing of the finished ones."""

import pandas as pd
import pytest
import torch

from refute.scaling import cpus, tuning
from refute.training.checkpoint import FILE, Checkpoint
from refute.components.tasks import TASKS
from refute.spec.blueprint import blueprint
from refute.spec.hashing import run_hash
from refute.spec.schema import RunSpec
from refute.components.batches import Batches
from refute.training.loop import fit

QUIET = dict(log=lambda m: None)


def grokking(seeds=16, **train):
    return RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 97, "train_fraction": 0.3}},
        "model": {"name": "mlp", "params": {"width": 512, "d_embed": 128}},
        "train": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0, "steps": 300, "eval_every": 300, **train},
        "seeds": seeds, "observables": ["loss"]})


def sparse_parity(seeds=16, **train):
    return RunSpec.model_validate({
        "task": {"name": "sparse_parity", "params": {"n_bits": 40, "k": 3, "online": True, "n_train": 256,
                                                     "n_val": 256}},
        "model": {"name": "mlp", "params": {"width": 128}},
        "train": {"optimizer": "adam", "lr": 1e-3, "steps": 2000, "eval_every": 2000, "batch_size": 32, **train},
        "seeds": seeds, "observables": ["loss"]})


def small_modular(**train):
    return RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}},
        "model": {"name": "mlp", "params": {"width": 32, "d_embed": 8}},
        "train": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1, "steps": 30, "eval_every": 10,
                  "snapshots": [10], **train},
        "seeds": [0, 1, 2, 3, 4], "observables": ["loss", "accuracy", "weight_norm"]})


def assert_bit_identical(a, b):
    pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)
    assert a.seeds == b.seeds and a.diverged == b.diverged and a.snapshots.keys() == b.snapshots.keys()
    for k in a.state:
        assert torch.equal(a.state[k], b.state[k]), k
    for step in a.snapshots:
        assert all(torch.equal(a.snapshots[step][k], b.snapshots[step][k]) for k in a.snapshots[step])


def test_the_reference_workloads_get_the_plan_the_benchmark_measured():
    # tiny steps: one thread, all seeds in one model; big matmuls: every CPU the job may use, four seeds at a time
    assert tuning.choose(blueprint(sparse_parity())) == tuning.Tuning(threads=1, seeds_per_chunk=16)
    assert tuning.choose(blueprint(grokking())) == tuning.Tuning(threads=cpus.allotted(), seeds_per_chunk=4)


@pytest.mark.parametrize("run", [small_modular(), small_modular(batch_size=8),
                                 sparse_parity(seeds=5, steps=30, eval_every=10)], ids=["full", "minibatch", "online"])
def test_seeds_trained_in_chunks_match_one_batched_model(monkeypatch, run):
    # To float rounding, as a seed alone matches the batch (kernels may vectorise a tensor's tail
    # differently); chunked runs are bit-identical to each other, since the plan depends on the spec only.
    whole = fit(run, **QUIET)
    monkeypatch.setattr(tuning, "CHUNK_STEP_FLOPS", 1.0)  # one seed per chunk
    assert tuning.choose(blueprint(run)).seeds_per_chunk == 1
    chunked = fit(run, **QUIET)
    pd.testing.assert_frame_equal(chunked.metrics, whole.metrics, check_exact=False, rtol=1e-5, atol=1e-6)
    for k in whole.state:
        torch.testing.assert_close(chunked.state[k], whole.state[k], rtol=1e-5, atol=1e-6)
    for step in whole.snapshots:  # weights kept during training, every seed in order
        for k in whole.snapshots[step]:
            torch.testing.assert_close(chunked.snapshots[step][k], whole.snapshots[step][k], rtol=1e-5, atol=1e-6)
    assert_bit_identical(fit(run, **QUIET), chunked)


def test_minibatches_drawn_in_blocks_are_those_of_one_draw_per_step():
    data = TASKS.get("modular_arithmetic").impl.build(small_modular().task.params)
    batches = Batches(data, 4, [3, 5])
    assert batches.block > 1
    gens = [torch.Generator().manual_seed(s + 7919) for s in (3, 5)]
    for _ in range(2 * batches.block + 3):  # across block boundaries
        x, y, batched = batches.next()
        idx = torch.stack([torch.randint(0, len(data.x_train), (4,), generator=g) for g in gens])
        assert batched and torch.equal(x, data.x_train[idx]) and torch.equal(y, data.y_train[idx])


def test_a_kill_in_a_later_chunk_keeps_the_finished_ones(monkeypatch, tmp_path):
    monkeypatch.setattr(tuning, "CHUNK_STEP_FLOPS", 1.0)
    run = small_modular(batch_size=8)
    uninterrupted = fit(run, **QUIET)

    class Crash(Exception):
        pass

    class CrashInTheFourthChunk(Checkpoint):
        """Chunk 3 of 5 saves at its first step and dies; the others keep only their finished state."""

        def due(self):
            return "/3of5/" in self.key or super().due()

        def save(self, state):
            super().save(state)
            if "/3of5/" in self.key:
                raise Crash

    with pytest.raises(Crash):
        fit(run, checkpoint=CrashInTheFourthChunk(tmp_path / FILE, run_hash(run), log=lambda m: None))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"checkpoint-{i}.pt" for i in range(4)]
    logged = []
    resumed = fit(run, checkpoint=Checkpoint(tmp_path / FILE, run_hash(run), log=logged.append))
    assert sum("resuming from the checkpoint at step 31" in m for m in logged) == 3  # chunks 0-2: finished
    assert any("resuming from the checkpoint at step 1 (checkpoint-3.pt)" in m for m in logged)
    assert_bit_identical(resumed, uninterrupted)
    Checkpoint(tmp_path / FILE, run_hash(run)).remove()
    assert not list(tmp_path.iterdir())


def test_threads_and_chunks_follow_the_size_of_a_step():
    assert tuning.threads(1e6, cores=8) == 1
    assert tuning.threads(1e10, cores=8) == 8
    assert tuning.seeds_per_chunk(1e3, 16) == 16
    assert tuning.seeds_per_chunk(1e12, 16) == 1
    assert tuning.seeds_per_chunk(tuning.CHUNK_STEP_FLOPS / 4, 16) == 4


def test_the_allocator_is_tuned_where_glibc_is_present():
    import platform

    if platform.libc_ver()[0] != "glibc":
        assert tuning.configure_allocator() is False
    else:
        assert tuning.configure_allocator() is True
        assert torch.ones(64 << 20, dtype=torch.uint8).sum() == 64 << 20  # still allocates and frees
