"""Optimizers, schedules and clipping: known answers on a quadratic, seeds kept independent."""

import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from refute.components import optimizers
from refute.components.optimizers import Constant, Cosine, Warmup, lr_factor
from refute.spec.schema import RunSpec
from refute.training.loop import fit


def shallow_run(**train):
    """A one-layer linear network on white inputs: the loss is ||W − W*||², its Hessian 2·I."""
    return RunSpec.model_validate({
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
    np.testing.assert_array_equal(mine.value, alone.metrics.value)  # bit for bit


def test_muP_learning_rates_become_parameter_groups():
    run = RunSpec.model_validate({
        "task": "teacher_student", "seeds": 1, "observables": ["loss"],
        "model": {"name": "mlp", "params": {"width": 32, "depth": 2, "parameterization": "mup", "base_width": 8}},
        "train": {"optimizer": "adamw", "lr": 0.01, "steps": 1, "eval_every": 1}})
    from refute.components.models import MODELS
    from refute.components.tasks import TASKS

    from refute.spec.blueprint import blueprint

    data = TASKS.get("teacher_student").impl.build(run.task.params)
    opt = optimizers.build(run.train, MODELS.get("mlp").impl.make(run.model.params, data, [0]), blueprint(run).model)
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.0025, 0.01])


@pytest.mark.parametrize("name,params,torch_cls,kwargs", [
    ("adam", {}, "Adam", {"fused": True}),
    ("adamw", {"betas": [0.8, 0.99], "eps": 1e-6}, "AdamW", {"fused": True, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("sgd", {"momentum": 0.9, "nesterov": True}, "SGD", {"momentum": 0.9, "nesterov": True, "foreach": True}),
    ("sgd", {}, "SGD", {"foreach": True}),
])
@pytest.mark.parametrize("seeds", [4, 3])
def test_the_optimizers_give_torch_optims_numbers(name, params, torch_cls, kwargs, seeds):
    """Ours call torch.optim's kernels; the classes around them must not change a bit. (Fused Adam: bit for
    bit on whole units of 16 floats, 4 seeds here; torch's own call gives a partial last unit, 3 seeds
    here, to a scalar loop that rounds otherwise, where ours keeps every element on the vector lanes.)"""
    from types import SimpleNamespace

    train = SimpleNamespace(lr=0.05, weight_decay=0.1, optimizer=SimpleNamespace(name=name, params=optimizers.OPTIMIZERS.get(name).params(**params)))
    g = torch.Generator().manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(seeds, 5, 4, generator=g)),
            torch.nn.Parameter(torch.randn(seeds, 1, 4, generator=g))]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    # Two groups at different rates, as muP makes them.
    opt = optimizers.OPTIMIZERS.get(name).impl.build(train.optimizer.params, [{"params": ours[:1], "lr": 0.05},
                                                                        {"params": ours[1:], "lr": 0.0125}], train)
    ref = getattr(torch.optim, torch_cls)([{"params": theirs[:1], "lr": 0.05}, {"params": theirs[1:], "lr": 0.0125}],
                                          lr=0.05, weight_decay=0.1, **kwargs)
    for step in range(5):
        grads = [torch.randn(p.shape, generator=g) for p in ours]
        for p, q, gr in zip(ours, theirs, grads):
            p.grad, q.grad = gr.clone(), gr.clone()
        factor = 0.5 + 0.1 * step  # a schedule: every group's rate scaled alike
        opt.set_lr_factor(factor)
        for group, base in zip(ref.param_groups, (0.05, 0.0125)):
            group["lr"] = base * factor
        opt.step()
        ref.step()
    for p, q in zip(ours, theirs):
        if seeds == 4 or torch_cls == "SGD":
            assert torch.equal(p, q)
        else:
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_optimizer_state_round_trips_so_a_resumed_run_continues_exactly():
    from types import SimpleNamespace

    train = SimpleNamespace(lr=0.1, weight_decay=0.0,
                            optimizer=SimpleNamespace(name="adam", params=optimizers.AdamParams()))
    w = torch.nn.Parameter(torch.ones(2, 3))
    opt = optimizers.Adam().build(train.optimizer.params, [{"params": [w], "lr": 0.1}], train)
    w.grad = torch.full((2, 3), 0.5)
    opt.step()
    saved = opt.state_dict()
    w2 = torch.nn.Parameter(w.detach().clone())
    opt2 = optimizers.Adam().build(train.optimizer.params, [{"params": [w2], "lr": 0.1}], train)
    opt2.load_state_dict(saved)
    for p, o in ((w, opt), (w2, opt2)):
        p.grad = torch.full((2, 3), -0.25)
        o.step()
    assert torch.equal(w, w2)
    with pytest.raises(ValueError, match="2 parameters"):
        opt2.load_state_dict({"state": [{}, {}]})


def test_a_training_job_does_not_import_torch_dynamo():
    """torch.optim's optimizer classes import torch._dynamo on first use: ~0.8 s of every job."""
    import subprocess
    import sys

    code = """
import sys
from refute.spec.schema import RunSpec
from refute.training.loop import fit
run = RunSpec.model_validate({"task": "teacher_student", "model": "mlp", "seeds": 2,
    "train": {"optimizer": "adamw", "lr": 0.01, "steps": 3, "eval_every": 3}, "observables": ["loss"]})
fit(run, log=lambda m: None)
print("torch._dynamo" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
