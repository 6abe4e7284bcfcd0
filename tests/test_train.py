"""Seed-batched training: a seed's numbers do not depend on its batch-mates, and runs are reproducible."""

import pandas as pd
import pytest
import torch

from refute.spec.schema import RunSpec
from refute.components.tasks.modular_arithmetic import ModularArithmetic, ModularArithmeticTask

build = ModularArithmeticTask().build
from refute.training.loop import fit


def run_spec(seeds, **train):
    return RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}},
        "model": {"name": "mlp", "params": {"width": 32, "d_embed": 8}},
        "train": {"lr": 0.01, "steps": 40, "eval_every": 10, **train},
        "seeds": seeds,
        "observables": ["loss", "accuracy", "weight_norm"],
    })


@pytest.mark.parametrize("batch_size", ["full", 16])
def test_a_seed_in_the_batch_matches_the_seed_trained_alone(batch_size):
    # Bit for bit (tests/test_chunk_invariance.py covers every model family and optimizer).
    together = fit(run_spec([3, 5, 8], batch_size=batch_size), log=lambda m: None)
    for i, seed in enumerate([3, 5, 8]):
        alone = fit(run_spec([seed], batch_size=batch_size), log=lambda m: None)
        mine = together.metrics[together.metrics.seed == seed].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone.metrics, check_exact=True)
        for k, v in alone.state.items():
            assert torch.equal(together.state[k][i], v[0])


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


MODEL_RUNS = {  # every model, with the task it reads, the optimizer features around it, and online data
    "deep_linear": ({"name": "deep_linear_teacher", "params": {"n_train": 32}}, {"name": "deep_linear"},
                    {"optimizer": {"name": "sgd", "params": {"momentum": 0.9}}, "lr": 0.005}),
    "transformer": ({"name": "modular_arithmetic", "params": {"p": 7}},
                    {"name": "transformer", "params": {"d_model": 16, "n_heads": 2, "d_mlp": 16}},
                    {"lr": 0.01, "schedule": {"name": "cosine", "warmup_steps": 5}, "grad_clip": 0.5}),
    "cnn": ({"name": "digits", "params": {"n_train": 64, "n_val": 32}}, {"name": "cnn", "params": {"channels": [4]}},
            {"optimizer": "adam", "lr": 0.01}),
    "mlp-mup-online": ({"name": "sparse_parity", "params": {"n_bits": 8, "k": 2, "online": True, "n_train": 32}},
                       {"name": "mlp", "params": {"width": 16, "parameterization": "mup", "base_width": 8}},
                       {"lr": 0.01}),
}


@pytest.mark.parametrize("name", list(MODEL_RUNS))
def test_every_model_trains_a_seed_in_the_batch_as_if_alone(name):
    task, model, train = MODEL_RUNS[name]

    def spec(seeds):
        return RunSpec.model_validate({
            "task": task, "model": model, "seeds": seeds, "observables": ["loss", "weight_norm"],
            "train": {"steps": 20, "eval_every": 10, "batch_size": 16, **train}})

    together = fit(spec([4, 7]), log=lambda m: None)
    alone = fit(spec([7]), log=lambda m: None)
    mine = together.metrics[together.metrics.seed == 7].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, alone.metrics, check_exact=False, rtol=1e-4, atol=1e-6)
    for k, v in alone.state.items():
        torch.testing.assert_close(together.state[k][1], v[0], rtol=1e-4, atol=1e-6)
    loss = together.metrics[together.metrics.metric == "train_loss"].groupby("step").value.mean()
    assert loss[20] < loss[0], "training should reduce the loss"


def test_online_data_draws_a_fresh_batch_every_step():
    from refute.components.tasks import TASKS
    from refute.components.batches import Batches

    data = TASKS.get("sparse_parity").impl.build(TASKS.get("sparse_parity").params(n_bits=8, k=2, online=True))
    batches = Batches(data, 16, [0, 1])
    (x1, _, batched), (x2, _, _) = batches.next(), batches.next()
    assert batched and x1.shape == (2, 16, 8) and not torch.equal(x1, x2) and not torch.equal(x1[0], x1[1])
    assert Batches(data, "full", [0]).next()[0].shape == (1, len(data.x_train), 8)  # full = n_train fresh examples
