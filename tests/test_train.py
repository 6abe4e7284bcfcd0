"""Seed-batched training: a seed's numbers do not depend on its batch-mates, and runs are reproducible."""

import numpy as np
import pandas as pd
import pytest
import torch

from refute.spec.schema import run_spec_model
from refute.tasks.modular_arithmetic import ModularArithmetic, build
from refute.train import fit


def run_spec(seeds, **train):
    return run_spec_model().model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}},
        "model": {"name": "mlp", "params": {"width": 32, "d_embed": 8}},
        "train": {"lr": 0.01, "steps": 40, "eval_every": 10, **train},
        "seeds": seeds,
        "observables": ["loss", "accuracy", "weight_norm"],
    })


@pytest.mark.parametrize("batch_size", ["full", 16])
def test_a_seed_in_the_batch_matches_the_seed_trained_alone(batch_size):
    # Batched GEMM kernels may sum in another order than a single GEMM, so agreement is to float
    # rounding, not to the bit; the same batch run twice is bit-identical (next test).
    together = fit(run_spec([3, 5, 8], batch_size=batch_size), log=lambda m: None)
    for i, seed in enumerate([3, 5, 8]):
        alone = fit(run_spec([seed], batch_size=batch_size), log=lambda m: None)
        mine = together.metrics[together.metrics.seed == seed].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone.metrics, check_exact=False, rtol=1e-5, atol=1e-6)
        for k, v in alone.state.items():
            torch.testing.assert_close(together.state[k][i], v[0], rtol=1e-5, atol=1e-6)


def test_the_same_spec_gives_identical_numbers():
    a = fit(run_spec([0, 1], batch_size=8), log=lambda m: None)
    b = fit(run_spec([0, 1], batch_size=8), log=lambda m: None)
    pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)


def test_metrics_table_is_tidy_and_complete():
    r = fit(run_spec([0, 1]), log=lambda m: None)
    assert list(r.metrics.columns) == ["seed", "step", "metric", "value"]
    assert set(r.metrics.metric) == {"train_loss", "val_loss", "train_acc", "val_acc", "weight_norm"}
    assert sorted(r.metrics.step.unique()) == [0, 10, 20, 30, 40]
    assert len(r.metrics) == 2 * 5 * 5
    # Training does something: the loss falls.
    loss = r.metrics[r.metrics.metric == "train_loss"].groupby("step").value.mean()
    assert loss[40] < loss[0]


def test_a_diverging_seed_is_recorded_and_the_others_finish():
    # lr 50 with SGD blows up; a divergence must stay in its own seed's slice.
    r = fit(run_spec([0, 1], lr=50.0, optimizer={"name": "sgd"}, steps=30), log=lambda m: None)
    assert r.diverged, "expected at least one seed to diverge at lr 50"
    for seed, step in r.diverged.items():
        rows = r.metrics[r.metrics.seed == seed]
        assert rows.step.max() <= step


def test_modular_arithmetic_labels_and_split():
    data = build(ModularArithmetic(p=7, op="-", train_fraction=0.5))
    x = torch.cat([data.x_train, data.x_val])
    y = torch.cat([data.y_train, data.y_val])
    assert len(x) == 49 and len(data.x_train) == 24 or len(data.x_train) == 25
    assert torch.equal(y, (x[:, 0] - x[:, 1]) % 7)
    div = build(ModularArithmetic(p=7, op="/", train_fraction=0.5))
    xd, yd = torch.cat([div.x_train, div.x_val]), torch.cat([div.y_train, div.y_val])
    assert torch.equal((yd * xd[:, 1]) % 7, xd[:, 0])  # y = a / b  <=>  y * b = a


def test_split_is_fixed_by_the_split_seed():
    a, b = build(ModularArithmetic(p=11)), build(ModularArithmetic(p=11))
    c = build(ModularArithmetic(p=11, split_seed=1))
    assert torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)
