"""Optimizers, schedules and clipping: known answers on a quadratic, seeds kept independent."""

import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from refute import optimizers
from refute.optimizers import Constant, Cosine, Warmup, lr_factor
from refute.spec.schema import run_spec_model
from refute.train import fit


def shallow_run(**train):
    """A one-layer linear network on white inputs: the loss is ||W − W*||², its Hessian 2·I."""
    return run_spec_model().model_validate({
        "task": {"name": "deep_linear_teacher", "params": {"d_in": 4, "d_out": 3, "singular_values": [2.0, 1.0],
                                                           "n_train": 64}},
        "model": {"name": "deep_linear", "params": {"layers": 1, "init_scale": 1.0}},
        "train": {"optimizer": "sgd", "steps": 10, "eval_every": 1, **train},
        "seeds": [0, 1],
        "observables": ["loss", {"name": "sharpness", "iters": 4}],
    })


def series(result, metric):
    return result.metrics[result.metrics.metric == metric].pivot(index="step", columns="seed", values="value")


def test_gradient_descent_contracts_a_quadratic_by_1_minus_2lr_per_step():
    r = fit(shallow_run(lr=0.1), log=lambda m: None)
    loss = series(r, "train_loss")
    np.testing.assert_allclose(loss.loc[10] / loss.loc[0], (1 - 2 * 0.1) ** 20, rtol=1e-4)


def test_a_schedule_sets_the_learning_rate_of_every_step():
    r = fit(shallow_run(lr=0.1, schedule={"name": "cosine", "warmup_steps": 3, "final_fraction": 0.1}),
            log=lambda m: None)
    rates = [0.1 * lr_factor(Cosine(name="cosine", warmup_steps=3, final_fraction=0.1), t, 10) for t in range(10)]
    loss = series(r, "train_loss")
    np.testing.assert_allclose(loss.loc[10] / loss.loc[0], np.prod([(1 - 2 * a) ** 2 for a in rates]), rtol=1e-4)
    # Sharpness is 2 everywhere, so the stability ratio sharpness·lr/2 reads back the scheduled rate.
    np.testing.assert_allclose(series(r, "sharpness").to_numpy(), 2.0, rtol=1e-4)
    np.testing.assert_allclose(series(r, "stability_ratio").loc[:9, 0], rates, rtol=1e-4)


def test_schedule_shapes():
    assert [lr_factor(Constant(name="constant"), t, 10) for t in (0, 9)] == [1.0, 1.0]
    warm = Warmup(name="warmup", warmup_steps=4)
    assert [lr_factor(warm, t, 10) for t in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    cos = Cosine(name="cosine", final_fraction=0.2)
    assert lr_factor(cos, 0, 11) == 1.0 and lr_factor(cos, 10, 11) == pytest.approx(0.2)
    assert lr_factor(cos, 5, 11) == pytest.approx(0.2 + 0.8 * 0.5)


def test_schedule_is_validated_in_the_spec():
    assert shallow_run(lr=0.1, schedule="cosine").train.schedule.name == "cosine"
    with pytest.raises(ValidationError, match="warmup_steps"):
        shallow_run(lr=0.1, schedule={"name": "warmup"})
    with pytest.raises(ValidationError):
        shallow_run(lr=0.1, grad_clip=0)


def test_clipping_is_per_seed():
    w = torch.nn.Parameter(torch.zeros(2, 3, 4))
    b = torch.nn.Parameter(torch.zeros(2, 1, 4))
    w.grad = torch.stack([torch.full((3, 4), 10.0), torch.full((3, 4), 0.1)])
    b.grad = torch.zeros(2, 1, 4)
    norms = optimizers.clip_per_seed([w, b], max_norm=1.0)
    torch.testing.assert_close(norms, torch.tensor([10.0 * math.sqrt(12), 0.1 * math.sqrt(12)]))
    assert w.grad[0].norm().item() == pytest.approx(1.0, rel=1e-5)  # clipped to the max norm
    torch.testing.assert_close(w.grad[1], torch.full((3, 4), 0.1))  # under the max: untouched


def test_clipped_training_keeps_seeds_independent():
    together = fit(shallow_run(lr=0.3, grad_clip=0.5), log=lambda m: None)
    alone = fit(shallow_run(lr=0.3, grad_clip=0.5).model_copy(update={"seeds": [1]}), log=lambda m: None)
    mine = together.metrics[together.metrics.seed == 1].reset_index(drop=True)
    np.testing.assert_allclose(mine.value, alone.metrics.value, rtol=1e-5, atol=1e-7)


def test_muP_learning_rates_become_parameter_groups():
    run = run_spec_model().model_validate({
        "task": "teacher_student", "seeds": 1, "observables": ["loss"],
        "model": {"name": "mlp", "params": {"width": 32, "depth": 2, "parameterization": "mup", "base_width": 8}},
        "train": {"optimizer": "adamw", "lr": 0.01, "steps": 1, "eval_every": 1}})
    from refute.registry import MODELS, TASKS

    data = TASKS.get("teacher_student").impl(run.task.params)
    opt = optimizers.build(run.train, MODELS.get("mlp").impl(run.model.params, data, [0]))
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.0025, 0.01])
