"""Models: seed-batched, each seed its own network; shapes, and a known answer for each."""

import pytest
import torch
import torch.nn.functional as F

from refute.components import objectives
from refute.components import optimizers
from refute.components.models import MODELS
from refute.components.tasks import TASKS, TaskInfo, TaskRef, task_info
from refute.spec.blueprint import blueprint
from refute.spec.schema import RunSpec

PAIRS = [  # (model, params, task, task params)
    ("mlp", {"width": 16, "d_embed": 4}, "modular_arithmetic", {"p": 7}),
    ("mlp", {"width": 16, "parameterization": "mup", "base_width": 8}, "in_context_regression", {"n_train": 20}),
    ("deep_linear", {"layers": 3, "width": 6}, "deep_linear_teacher", {"n_train": 20}),
    ("transformer", {"d_model": 16, "n_heads": 2, "d_mlp": 32}, "modular_arithmetic", {"p": 7}),
    ("transformer", {"d_model": 16, "n_heads": 4, "n_layers": 2, "attention_only": True}, "in_context_regression",
     {"n_train": 20, "n_points": 5}),
    ("cnn", {"channels": [4, 8], "hidden": 16}, "digits", {"n_train": 20}),
]


def build(model, mp, task, tp, seeds):
    data = TASKS.get(task).impl.build(TASKS.get(task).params(**tp))
    return MODELS.get(model).impl.make(MODELS.get(model).params(**mp), data, seeds), data


@pytest.mark.parametrize("model, mp, task, tp", PAIRS, ids=[f"{p[0]}-{p[2]}" for p in PAIRS])
def test_a_seed_in_the_batch_computes_what_it_computes_alone(model, mp, task, tp):
    together, data = build(model, mp, task, tp, [3, 5, 8])
    x = data.x_train[:10]
    out = together(x)
    assert out.shape == (3, 10, data.out_dim)
    for i, seed in enumerate([3, 5, 8]):
        alone, _ = build(model, mp, task, tp, [seed])
        torch.testing.assert_close(out[i], alone(x)[0], rtol=1e-5, atol=1e-6)
        # Per-seed inputs ([S, B, ...], batched=True) give the same as shared inputs.
    torch.testing.assert_close(together(x.expand(3, *x.shape), batched=True), out)
    assert not torch.equal(out[0], out[1]), "seeds must differ"


def coordinate_check(parameterization: str, widths=(64, 512)) -> list[float]:
    """Mean change of the output after one Adam step at lr 1e-4, per width (Yang et al.'s 'coord check')."""
    data = TASKS.get("teacher_student").impl.build(TASKS.get("teacher_student").params(d_in=16, n_train=64))
    out = []
    for width in widths:
        run = RunSpec.model_validate({
            "task": "teacher_student", "seeds": 1, "observables": ["loss"],
            "model": {"name": "mlp", "params": {"width": width, "depth": 2, "parameterization": parameterization,
                                                 "base_width": 64}},
            "train": {"optimizer": "adam", "lr": 1e-4, "steps": 1, "eval_every": 1}})
        model = MODELS.get("mlp").impl.make(run.model.params, data, [0])
        opt = optimizers.build(run.train, model, blueprint(run).model)
        before = model(data.x_train).detach()
        objectives.loss(model(data.x_train), objectives.shared(data.y_train, 1), "regression").sum().backward()
        opt.step()
        out.append((model(data.x_train).detach() - before).abs().mean().item())
    return out


def test_mup_keeps_the_update_size_independent_of_width_where_standard_does_not():
    sp, mup = coordinate_check("standard"), coordinate_check("mup")
    assert sp[1] / sp[0] > 4  # standard: the output moves ~ width times more at 8x the width
    assert 0.7 < mup[1] / mup[0] < 1.4
    assert mup[0] == pytest.approx(sp[0])  # at the base width muP is the standard parameterization


def test_mup_learning_rate_multipliers_follow_the_tables():
    p = MODELS.get("mlp").params(width=256, depth=2, parameterization="mup", base_width=64)
    mlp = MODELS.get("mlp").impl.architecture(p, task_info(TaskRef(name="teacher_student")))
    assert mlp.lr_multipliers(adaptive=True) == {"w0": 1, "b0": 1, "w1": 0.25, "b1": 1, "w2": 0.25, "b2": 1}
    assert mlp.lr_multipliers(adaptive=False) == {"w0": 4, "b0": 4, "w1": 1, "b1": 4, "w2": 0.25, "b2": 1}


def test_deep_linear_network_is_the_product_of_its_matrices():
    net, data = build("deep_linear", {"layers": 3, "width": 5}, "deep_linear_teacher", {"n_train": 20}, [0, 1])
    assert sorted(n for n, _ in net.named_parameters()) == ["w0", "w1", "w2"]
    product = net.w0 @ net.w1 @ net.w2  # [S, d_in, d_out]
    torch.testing.assert_close(net(data.x_val), data.x_val @ product)


def test_transformer_attention_is_causal():
    net, data = build("transformer", {"d_model": 16, "n_heads": 2}, "in_context_regression",
                      {"n_train": 4, "n_points": 6}, [0])
    h = torch.randn(1, 4, 6, 16)
    changed = h.clone()
    changed[:, :, -1] += 1.0
    a, b = net.attention(h, 0), net.attention(changed, 0)
    torch.testing.assert_close(a[:, :, :-1], b[:, :, :-1])  # earlier positions never see the last one
    assert not torch.allclose(a[:, :, -1], b[:, :, -1])
    only, _ = build("transformer", {"d_model": 16, "n_heads": 2, "attention_only": True}, "in_context_regression",
                    {"n_train": 4}, [0])
    assert not any("mlp" in n or "_up" in n for n, _ in only.named_parameters())


def test_cnn_matches_a_plain_convolutional_network_per_seed():
    net, data = build("cnn", {"channels": [3], "hidden": 0}, "digits", {"n_train": 10}, [0, 1])
    x = data.x_train.view(-1, 1, 8, 8)
    for s in range(2):
        h = F.max_pool2d(torch.relu(F.conv2d(x, net.conv0[s], net.conv0_b[s], padding=1)), 2)
        ref = h.flatten(1) @ net.fc0[s] + net.fc0_b[s]
        torch.testing.assert_close(net(data.x_train)[s], ref, rtol=1e-5, atol=1e-6)


def test_models_refuse_inputs_they_cannot_read():
    with pytest.raises(ValueError, match="image task"):
        build("cnn", {}, "sparse_parity", {}, [0])
    with pytest.raises(ValueError, match="token or sequence"):
        build("transformer", {}, "sparse_parity", {}, [0])


@pytest.mark.parametrize("model, mp, task, tp", PAIRS, ids=[f"{p[0]}-{p[2]}" for p in PAIRS])
def test_every_declared_site_is_reached_with_its_units_last(model, mp, task, tp):
    from refute.components.probes.hooks import activations, forward

    net, data = build(model, mp, task, tp, [0, 1])
    anatomy = MODELS.get(model).impl.architecture(MODELS.get(model).params(**mp), TaskInfo.of(data))
    out, acts = activations(net, data.x_train[:5], list(anatomy.sites))
    for site, units in anatomy.sites.items():
        assert acts[site].shape[:2] == (2, 5) and acts[site].shape[-1] == units, site
        # A hook that returns an unchanged copy changes nothing: the site's layout round-trips.
        torch.testing.assert_close(forward(net, data.x_train[:5], {site: lambda a: a.clone()}), out)
    for name in anatomy.matrices:
        assert net.token_matrix(name).shape[0] == 2
