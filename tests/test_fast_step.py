"""The mlp's written-out training pass (refute.components.models._mlp_backward, objectives.training_loss) gives
autograd's numbers bit for bit: each seed's loss, every parameter's gradient, and the parameters after steps of
training, for every activation, with and without bias, on dense and token inputs, for both objectives."""

import pytest
import torch

from refute.components import objectives, optimizers
from refute.components.batches import Batches
from refute.components.models import build_model
from refute.components.probes import hooks
from refute.components.tasks import build_task
from refute.spec.blueprint import blueprint
from refute.spec.schema import RunSpec

PARITY = {"name": "sparse_parity", "params": {"n_bits": 10, "k": 2, "online": True, "n_train": 64, "n_val": 16}}
TOKENS = {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}}
REGRESSION = {"name": "teacher_student", "params": {"d_in": 5, "d_out": 2, "n_train": 37, "n_val": 20}}


def spec(task: dict, model: dict, batch_size, optimizer="adam", grad_clip=None) -> RunSpec:
    return RunSpec.model_validate({"task": task, "model": model, "seeds": [0, 1, 2], "observables": ["loss"],
                                   "train": {"steps": 6, "eval_every": 6, "optimizer": optimizer, "lr": 0.05,
                                             "batch_size": batch_size, "grad_clip": grad_clip}})


CASES = {f"{task}-{act}-{'bias' if bias else 'nobias'}": spec(t, {"name": "mlp", "params": {
             "width": 9, "depth": 2, "activation": act, "bias": bias, "d_embed": 3}}, batch)
         for task, t, batch in (("parity", PARITY, 8), ("tokens", TOKENS, 8), ("regression", REGRESSION, "full"))
         for act in ("relu", "gelu", "tanh", "linear") for bias in (True, False)}
CASES |= {
    "linear-model": spec(PARITY, {"name": "mlp", "params": {"depth": 0}}, 8),
    "deep-linear-sgd": spec(REGRESSION, {"name": "deep_linear", "params": {"layers": 3, "width": 7}}, "full", "sgd"),
    "mup-adamw-clipped": spec(TOKENS, {"name": "mlp", "params": {"width": 33, "d_embed": 7, "parameterization": "mup",
                                                                 "base_width": 16}}, 5, "adamw", grad_clip=0.1),
    "the-small-regime": spec({"name": "sparse_parity", "params": {"n_bits": 40, "k": 3, "online": True}},
                             {"name": "mlp", "params": {"width": 128}}, 32),
}


def trainer(run: RunSpec):
    data = build_task(run.task)
    model = build_model(run, data, list(run.seeds))
    return data, model, optimizers.build(run.train, model, blueprint(run).model), Batches(
        data, run.train.batch_size, list(run.seeds))


@pytest.mark.parametrize("case", CASES)
def test_the_written_out_backward_is_autograds_bit_for_bit(case):
    run = CASES[case]
    data, auto, auto_opt, auto_batches = trainer(run)
    _, manual, manual_opt, manual_batches = trainer(run)
    for step in range(run.train.steps):
        x, y, batched = auto_batches.next()
        expected = objectives.loss(auto(x, batched=batched), y, data.objective)
        optimizers.update(auto_opt, auto, expected, run.train.grad_clip)
        x, y, batched = manual_batches.next()
        assert manual.manual_forward(x, batched) is not None  # the written-out path is the one under test
        loss, backward = objectives.training_loss(manual, x, y, batched, data.objective)
        assert not loss.requires_grad
        optimizers.update(manual_opt, manual, loss, run.train.grad_clip, backward=backward)
        assert torch.equal(expected.detach(), loss), f"loss at step {step}"
        for (name, a), m in zip(auto.named_parameters(), manual.parameters()):
            assert torch.equal(a.grad, m.grad), f"grad of {name} at step {step}"
            assert a.grad.stride() == m.grad.stride(), name
            assert torch.equal(a, m), f"{name} after step {step}"


def test_gradients_accumulate_as_autograds_do():
    run = CASES["tokens-gelu-bias"]
    data, auto, _, batches = trainer(run)
    _, manual, _, _ = trainer(run)
    x, y, batched = batches.next()
    for _ in range(2):  # no zero_grad between: the second backward adds to .grad
        objectives.loss(auto(x, batched=batched), y, data.objective).sum().backward()
        objectives.training_loss(manual, x, y, batched, data.objective)[1]()
    for a, m in zip(auto.parameters(), manual.parameters()):
        assert torch.equal(a.grad, m.grad)


def test_a_hooked_site_takes_autograds_path():
    """A probe's hook sees (and may change) a site on autograd's graph: the written-out pass steps aside."""
    run = CASES["parity-relu-bias"]
    data, model, _, batches = trainer(run)
    x, y, batched = batches.next()
    with hooks.hooked(model, {"hidden.0": lambda h: h * 0}):
        assert model.manual_forward(x, batched) is None
        loss, backward = objectives.training_loss(model, x, y, batched, data.objective)
    assert loss.requires_grad
    backward()
    assert torch.count_nonzero(model.w0.grad) == 0  # the hook zeroed everything before layer 1
