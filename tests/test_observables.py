"""Observables: per-seed values with known answers; names fixed by the spec before training."""

import math

import pytest
import torch

from conftest import write_yaml
from refute.components import hessian
from refute.components import objectives
from refute.components.observables import EvalContext
from refute.components.observables.effective_rank import effective_rank
from refute.components.models import MODELS
from refute.components.observables import OBSERVABLES
from refute.components.tasks import TASKS
from refute.spec.errors import SpecError
from refute.spec.loader import load_hypothesis, metrics_of
from refute.spec.schema import RunSpec


def quadratic(eigenvalues: list[torch.Tensor]):
    """Per seed s, loss_s(x) = ½ xᵀ A_s x with A_s = Q diag(eigenvalues[s]) Qᵀ, summed over seeds."""
    n = len(eigenvalues[0])
    A = []
    for s, e in enumerate(eigenvalues):
        q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(s), dtype=torch.float64))
        A.append(q @ torch.diag(e) @ q.T)
    x = torch.randn(len(A), n, dtype=torch.float64, requires_grad=True)
    return 0.5 * torch.einsum("si,sij,sj->s", x, torch.stack(A), x).sum(), x


def test_lanczos_finds_each_seeds_top_eigenvalue_of_a_known_quadratic():
    eig = [torch.linspace(-3.0, 5.0, 40, dtype=torch.float64),                  # spread spectrum, negatives
           torch.linspace(0.1, 2.0, 40, dtype=torch.float64),
           torch.cat([torch.tensor([7.0]), torch.ones(39)]).double(),           # two distinct values: breakdown
           torch.linspace(-9.0, 1.5, 40, dtype=torch.float64)]                 # largest |λ| is negative
    loss, x = quadratic(eig)
    hvp = hessian.hvp_fn(loss, [x])
    top = hessian.top_eigenvalue(hvp, hessian.start_vector([x], [0, 1, 2, 3]), iters=30)
    torch.testing.assert_close(top, torch.tensor([5.0, 2.0, 7.0, 1.5], dtype=torch.float64), rtol=1e-6, atol=1e-6)
    # Power iteration converges to the largest |λ| (so −9 for the last seed), more slowly.
    power = hessian.top_eigenvalue(hvp, hessian.start_vector([x], [0, 1, 2, 3]), iters=300, method="power")
    torch.testing.assert_close(power, torch.tensor([5.0, 2.0, 7.0, -9.0], dtype=torch.float64), rtol=2e-2, atol=0)


def tiny(model="mlp", mp=None, task="teacher_student", tp=None, seeds=(0,)):
    data = TASKS.get(task).impl.build(TASKS.get(task).params(**(tp or {})))
    net = MODELS.get(model).impl.make(MODELS.get(model).params(**(mp or {})), data, list(seeds))
    return net, data


def compute(name, net, data, seeds=(0,), lr=0.1, **params):
    p = OBSERVABLES.get(name).params(name=name, **params)
    return OBSERVABLES.get(name).impl.compute(p, EvalContext(net, data, 0, lr, list(seeds)))


def test_sharpness_equals_the_exact_top_hessian_eigenvalue_of_a_small_network():
    mp, tp = {"width": 6, "depth": 1, "activation": "tanh"}, {"d_in": 3, "n_train": 32}
    net, data = tiny(mp=mp, tp=tp)
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    flat0 = torch.cat([p.detach().flatten() for p in net.parameters()])

    def loss_of(flat):
        params, i = {}, 0
        for n, s in zip(names, shapes):
            params[n] = flat[i:i + s.numel()].view(s)
            i += s.numel()
        out = torch.func.functional_call(net, params, (data.x_train,))
        return objectives.loss(out, objectives.shared(data.y_train, 1), "regression").sum()

    exact = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, flat0)).max()
    got = compute("sharpness", net, data, iters=len(flat0))
    assert got["sharpness"].item() == pytest.approx(exact.item(), rel=1e-4)
    assert got["stability_ratio"].item() == pytest.approx(exact.item() * 0.1 / 2, rel=1e-4)


def test_sharpness_of_a_seed_does_not_depend_on_its_batch_mates():
    mp = {"width": 16, "depth": 2, "activation": "tanh"}
    together = compute("sharpness", *tiny(mp=mp, seeds=(2, 9)), seeds=(2, 9))["sharpness"]
    alone = compute("sharpness", *tiny(mp=mp, seeds=(9,)), seeds=(9,))["sharpness"]
    assert together.shape == (2,) and together[1].item() == pytest.approx(alone.item(), rel=1e-5)


def test_grad_norm_is_each_seeds_own_gradient_norm():
    net, data = tiny(mp={"width": 8}, seeds=(0, 1))
    got = compute("grad_norm", net, data, seeds=(0, 1))["grad_norm"]
    for s in (0, 1):
        alone, _ = tiny(mp={"width": 8}, seeds=(s,))
        loss = objectives.loss(alone(data.x_train), objectives.shared(data.y_train, 1), "regression").sum()
        grads = torch.autograd.grad(loss, list(alone.parameters()))
        assert got[s].item() == pytest.approx(math.sqrt(sum(g.pow(2).sum().item() for g in grads)), rel=1e-5)


def test_a_linear_network_at_the_teacher_has_every_mode_learned_and_no_gradient():
    tp = {"d_in": 5, "d_out": 4, "singular_values": [3.0, 1.0, 0.5], "n_train": 50}
    net, data = tiny("deep_linear", {"layers": 1}, "deep_linear_teacher", tp, seeds=(0, 1))
    U, V, s = (data.info[k] for k in ("teacher_U", "teacher_V", "teacher_s"))
    with torch.no_grad():
        net.w0[0] = (U @ torch.diag(s) @ V.T).T  # seed 0 sits at the teacher; seed 1 stays at its init
    modes = compute("teacher_modes", net, data, seeds=(0, 1))
    assert [modes[f"mode_strength_{i}"][0].item() for i in range(3)] == pytest.approx([1, 1, 1], abs=1e-5)
    assert all(abs(modes[f"mode_strength_{i}"][1].item()) < 0.5 for i in range(3))
    sv = compute("singular_values", net, data, seeds=(0, 1), k=4)
    assert [sv[f"sv_{i}"][0].item() for i in range(4)] == pytest.approx([3.0, 1.0, 0.5, 0.0], abs=1e-5)
    assert compute("grad_norm", net, data, seeds=(0, 1))["grad_norm"][0].item() < 1e-4


def test_singular_values_of_a_deep_linear_network_are_those_of_its_product():
    net, data = tiny("deep_linear", {"layers": 3, "width": 7, "init_scale": 1.0}, "deep_linear_teacher", {}, (0, 1))
    sv = compute("singular_values", net, data, seeds=(0, 1), k=3)
    expected = torch.linalg.svdvals(net.w0 @ net.w1 @ net.w2)[:, :3]
    torch.testing.assert_close(torch.stack([sv[f"sv_{i}"] for i in range(3)], 1), expected.detach())


def test_effective_rank_known_answers():
    eye = torch.eye(6).expand(2, 6, 6)
    torch.testing.assert_close(effective_rank(eye), torch.tensor([6.0, 6.0]))
    rank_one = torch.outer(torch.arange(1.0, 5.0), torch.ones(3)).unsqueeze(0)
    torch.testing.assert_close(effective_rank(rank_one), torch.tensor([1.0]), atol=1e-4, rtol=0)


def test_weight_norm_per_layer_adds_up_to_the_total():
    net, data = tiny(mp={"width": 8, "depth": 2}, seeds=(0, 1))
    got = compute("weight_norm", net, data, seeds=(0, 1), per_layer=True)
    layers = [v for k, v in got.items() if k.startswith("weight_norm.")]
    assert len(layers) == 6
    torch.testing.assert_close(sum(v**2 for v in layers).sqrt(), got["weight_norm"])


def run(**over):
    spec = {"task": {"name": "deep_linear_teacher"}, "model": {"name": "deep_linear", "params": {"layers": 2}},
            "train": {"lr": 0.1, "steps": 5, "eval_every": 1}, "seeds": 1, "observables": ["loss"]}
    spec.update(over)
    return RunSpec.model_validate(spec)


def test_metric_names_come_from_the_model_and_task():
    r = run(observables=[{"name": "weight_norm", "per_layer": True}, "effective_rank", "teacher_modes",
                         {"name": "singular_values", "k": 2}])
    assert metrics_of(r) == ["weight_norm", "weight_norm.w0", "weight_norm.w1", "effective_rank.w0",
                             "effective_rank.w1", "mode_strength_0", "mode_strength_1", "mode_strength_2",
                             "mode_strength_3", "sv_0", "sv_1"]


@pytest.mark.parametrize("task, model, observables, expected", [
    ({"name": "modular_arithmetic", "params": {"p": 7}}, {"name": "cnn"}, ["loss"],
     "model: model 'cnn' reads image inputs; task 'modular_arithmetic' gives tokens"),
    ({"name": "teacher_student"}, {"name": "deep_linear"}, ["loss", "teacher_modes"],
     "observables.1: observable 'teacher_modes' needs task deep_linear_teacher"),
    ({"name": "deep_linear_teacher"}, {"name": "mlp"}, ["singular_values"],
     "observable 'singular_values' needs a linear network"),
    ({"name": "deep_linear_teacher", "params": {"d_in": 3, "d_out": 3, "singular_values": [1.0]}},
     {"name": "deep_linear"}, [{"name": "singular_values", "k": 4}], "k = 4 exceeds"),
    ({"name": "deep_linear_teacher"}, {"name": "deep_linear"}, [{"name": "effective_rank", "parameters": ["w9"]}],
     "not weight matrices of this model: w9"),
])
def test_mismatched_components_are_spec_errors_with_a_line(tmp_path, tiny, task, model, observables, expected):
    tiny.update(task=task, model=model, observables=observables)
    tiny["predictions"][0]["metric"] = "train_loss" if "loss" in observables else "sv_0"
    with pytest.raises(SpecError) as err:
        load_hypothesis(write_yaml(tmp_path / "h.yaml", tiny))
    assert any(expected in str(i) and i.line > 1 for i in err.value.issues), err.value.issues


def test_a_diverged_seed_gets_nan_and_the_others_their_values():
    net, data = tiny("deep_linear", {"layers": 2, "init_scale": 1.0}, "deep_linear_teacher", {}, (0, 1))
    with torch.no_grad():
        net.w0[1] = float("nan")
        net.w1[1] = float("nan")
    for name, params in [("sharpness", {"iters": 4}), ("effective_rank", {}), ("singular_values", {"k": 2}),
                         ("teacher_modes", {}), ("grad_norm", {})]:
        for metric, v in compute(name, net, data, seeds=(0, 1), **params).items():
            assert math.isfinite(v[0].item()) and math.isnan(v[1].item()), (name, metric, v)
