"""A seed's numbers do not depend on which seeds share its batched model, nor how many (issue 15 item 6,
and what packing runs together needs, issue 17): trained with all of a run's seeds, alone, in chunks of
any size or beside other neighbours, a seed's logged metrics and weights are the same bit for bit, for
every model family and optimizer, at one thread and at two."""

import json

import pandas as pd
import pytest
import torch

from refute.components import optimizers
from refute.spec.schema import RunSpec
from refute.training import chunks
from refute.training.job import train_run
from refute.training.loop import fit

TOKENS = {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}}
DENSE = {"name": "teacher_student", "params": {"d_in": 5, "d_out": 1, "n_train": 37, "n_val": 20}}

# One small run per model family and optimizer, with sizes that fill no vector evenly and the observables
# that reduce over seeds' tensors (norms, ranks, curvature, end-to-end maps).
CASES = {
    "mlp-tokens-adamw": (TOKENS, {"name": "mlp", "params": {"width": 33, "d_embed": 7}},
                         {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.5, "batch_size": 8},
                         ["loss", "accuracy", {"name": "weight_norm", "per_layer": True}, "effective_rank"]),
    "mlp-dense-sgd-clipped": (DENSE, {"name": "mlp", "params": {"width": 19, "depth": 2, "activation": "tanh"}},
                              {"optimizer": "sgd", "lr": 0.05, "batch_size": "full", "grad_clip": 0.5},
                              ["loss", "grad_norm", {"name": "sharpness", "iters": 5}]),
    "mlp-nesterov-cosine": (DENSE, {"name": "mlp", "params": {"width": 19, "activation": "gelu"}},
                            {"optimizer": {"name": "sgd", "params": {"momentum": 0.9, "nesterov": True}}, "lr": 0.05,
                             "weight_decay": 0.01, "batch_size": 7, "schedule": {"name": "cosine", "warmup_steps": 3}},
                            ["loss"]),
    "deep-linear-gd": ({"name": "deep_linear_teacher",
                        "params": {"d_in": 5, "d_out": 3, "singular_values": [2.0, 1.0, 0.5], "n_train": 23}},
                       {"name": "deep_linear", "params": {"layers": 3, "width": 7}},
                       {"optimizer": "sgd", "lr": 0.05, "batch_size": "full"},
                       ["loss", "teacher_modes", {"name": "singular_values", "k": 3}]),
    "mlp-mup-adam-l2": (TOKENS, {"name": "mlp", "params": {"width": 33, "d_embed": 7, "parameterization": "mup",
                                                           "base_width": 16}},
                        {"optimizer": "adam", "lr": 0.01, "weight_decay": 0.1, "batch_size": "full", "grad_clip": 1.0},
                        ["loss", "accuracy"]),
    "cnn-adamw": ({"name": "digits", "params": {"n_train": 60}}, {"name": "cnn", "params": {"channels": [3, 5], "hidden": 9}},
                  {"optimizer": "adamw", "lr": 0.01, "batch_size": 16}, ["loss", "accuracy"]),
    "transformer-adamw": (TOKENS, {"name": "transformer", "params": {"d_model": 16, "n_heads": 2, "d_mlp": 24}},
                          {"optimizer": "adamw", "lr": 0.01, "batch_size": 8}, ["loss", "accuracy"]),
}


def run_spec(case: str, seeds: list[int], steps: int = 20) -> RunSpec:
    task, model, train, observables = CASES[case]
    return RunSpec.model_validate({"task": task, "model": model, "seeds": seeds, "observables": observables,
                                   "train": {"steps": steps, "eval_every": 10, **train}})


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def assert_same_seeds(a, b, seeds: list[int]) -> None:
    """Seeds `seeds` have bit-identical metrics (rows and values) and weights in fit results a and b."""
    rows = lambda r: r.metrics[r.metrics.seed.isin(seeds)].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(rows(a), rows(b), check_exact=True)
    for name in a.state:
        ia, ib = [a.seeds.index(s) for s in seeds], [b.seeds.index(s) for s in seeds]
        assert torch.equal(a.state[name][ia], b.state[name][ib]), f"{name} of seeds {seeds}"


@pytest.mark.parametrize("case", CASES)
def test_a_seed_gets_the_same_numbers_whatever_shares_its_batch(case, threads):
    whole = fit(run_spec(case, list(range(8))), log=lambda m: None)
    for group in ([3], [0, 1, 2], [4, 5, 6, 7]):  # alone, and chunks of 3 and 4 (seeds_per_job 1, 3, 4)
        assert_same_seeds(whole, fit(run_spec(case, group), log=lambda m: None), group)
    # Other neighbours, at another position in the batch: what packing runs together needs.
    assert_same_seeds(whole, fit(run_spec(case, [5, 9, 11]), log=lambda m: None), [5])


def test_chunked_jobs_merge_into_the_files_one_job_writes(tmp_path, threads):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(run_spec("mlp-tokens-adamw", [7, 2, 5, 11, 4]).model_dump(mode="json")))
    train_run(spec, tmp_path / "whole", threads=threads)
    for per_job in (1, 3):
        parts = [tmp_path / f"by{per_job}" / chunks.chunk_name(lo, hi) for lo, hi in chunks.split(5, per_job)]
        for part, (lo, hi) in zip(parts, chunks.split(5, per_job)):
            train_run(spec, part, threads=threads, seeds=slice(lo, hi))
        chunks.merge(parts, tmp_path / f"by{per_job}")
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "whole" / "metrics.parquet"),
                                      pd.read_parquet(tmp_path / f"by{per_job}" / "metrics.parquet"), check_exact=True)
        a, b = (torch.load(tmp_path / d / "weights.pt", weights_only=True) for d in ("whole", f"by{per_job}"))
        assert a["seeds"] == b["seeds"] and all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_per_model_learning_rates_keep_each_model_as_if_trained_alone(name):
    """Models packed into one batched tensor with their own learning rates (one parameter group per rate over
    views of their slices, as hyperparameter packing does) take the very steps each takes alone."""
    from types import SimpleNamespace

    rule = optimizers.OPTIMIZERS.get(name)
    train = SimpleNamespace(weight_decay=0.1, optimizer=SimpleNamespace(name=name, params=rule.params()))
    g = torch.Generator().manual_seed(0)
    start = torch.randn(5, 7, 3, generator=g)
    grads = [torch.randn(5, 7, 3, generator=g) for _ in range(4)]
    rates = [0.1, 0.1, 0.03, 0.03, 0.01]

    packed = start.clone()
    views = [packed[i:i + 1] for i in range(5)]  # each model's slice, in place
    opt = rule.impl.build(train.optimizer.params, [{"params": [v], "lr": lr} for v, lr in zip(views, rates)], train)
    alone = [start[i:i + 1].clone() for i in range(5)]
    opts = [rule.impl.build(train.optimizer.params, [{"params": [p], "lr": lr}], train) for p, lr in zip(alone, rates)]
    for step, gr in enumerate(grads):
        for i in range(5):
            views[i].grad, alone[i].grad = gr[i:i + 1].clone(), gr[i:i + 1].clone()
            opts[i].set_lr_factor(0.5 + 0.1 * step)
        opt.set_lr_factor(0.5 + 0.1 * step)
        opt.step()
        for o in opts:
            o.step()
    for i in range(5):
        assert torch.equal(packed[i:i + 1], alone[i]), f"model {i} at lr {rates[i]}"
