"""Probes: every hook is scoped, and every probe gives the known answer on a model built to have it."""

import math

import numpy as np
import pytest
import torch

from refute.components.probes import ProbeContext, task_data
from refute.components.probes.hooks import activations, capture, forward, hooked, replace_units
from refute.components.probes import PROBES
from refute.components.probes.cka import linear_cka
from refute.components.probes.fourier import frequency_power
from refute.components.probes.linear_probe import control_cells, probe_accuracies
from refute.components.probes.localization import group_search
from refute.components.models import MODELS
from refute.components.tasks import TaskInfo
from refute.components.probes import PROBES
from refute.components.probes import ProbeSpec
from refute.spec.schema import RunSpec
from refute.training.loop import fit

from pydantic import TypeAdapter


def run_spec(task=None, model=None, seeds=(0, 1), steps=40, **train):
    return RunSpec.model_validate({
        "task": task or {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}},
        "model": model or {"name": "mlp", "params": {"width": 16, "d_embed": 4}},
        "train": {"lr": 0.01, "steps": steps, "eval_every": 10, **train},
        "seeds": list(seeds),
        "observables": ["loss", "accuracy"],
    })


def context(run, state=None, step=None) -> ProbeContext:
    data = task_data(run)
    model = MODELS.get(run.model.name).impl.make(run.model.params, data, list(run.seeds))
    if state is not None:
        model.load_state_dict(state)
    return ProbeContext(run, data, model, list(run.seeds), run.train.steps if step is None else step)


def probe(**spec):
    return TypeAdapter(ProbeSpec).validate_python(spec)


def compute(ctx, **spec):
    p = probe(**spec)
    return PROBES.get(p.name).impl.compute(p, ctx).frame(ctx.step)


def value(frame, metric, unit=""):
    rows = frame[(frame.metric == metric) & (frame.unit == str(unit))]
    return rows.value.to_numpy()


PLANTED = {"name": "planted_feature", "params": {"n_features": 16, "planted": [5], "n_train": 400, "n_val": 400}}


def planted_linear_model(seeds=(0, 1, 2)):
    """A linear model (depth 0) on the planted task whose logits read input 5 only: the known answer."""
    run = run_spec(task=PLANTED, model={"name": "mlp", "params": {"depth": 0}}, seeds=seeds)
    ctx = context(run)
    with torch.no_grad():
        ctx.model.w0.zero_()
        ctx.model.b0.zero_()
        ctx.model.w0[:, 5, 0], ctx.model.w0[:, 5, 1] = -3.0, 3.0
    return ctx


# --- hooks -----------------------------------------------------------------------------------


def test_hooks_live_only_inside_their_block_even_when_it_raises():
    ctx = context(run_spec())
    x = ctx.data.x_val
    with hooked(ctx.model, {"hidden.0": lambda h: h * 0}):
        assert ctx.model.site_hooks()["hidden.0"]
        zeroed = ctx.model(x)
    assert ctx.model.site_hooks() == {}
    assert not torch.equal(ctx.model(x), zeroed)

    with pytest.raises(RuntimeError, match="boom"), capture(ctx.model, ["embed", "logits"]):
        ctx.model(x)
        raise RuntimeError("boom")
    assert ctx.model.site_hooks() == {}

    def explode(h):
        raise ValueError("inside the forward pass")

    with pytest.raises(ValueError):
        forward(ctx.model, x, {"pre.0": explode, "logits": lambda h: None})
    assert ctx.model.site_hooks() == {}
    assert not ctx.model._forward_hooks and not ctx.model._forward_pre_hooks


def test_nested_hooks_on_one_site_are_removed_one_by_one():
    ctx = context(run_spec())
    with hooked(ctx.model, {"logits": lambda h: h + 1}):
        with hooked(ctx.model, {"logits": lambda h: h * 2}):
            assert len(ctx.model.site_hooks()["logits"]) == 2
        assert len(ctx.model.site_hooks()["logits"]) == 1
        base = ctx.model(ctx.data.x_val[:3])
    torch.testing.assert_close(base, ctx.model(ctx.data.x_val[:3]) + 1)
    assert ctx.model.site_hooks() == {}


@pytest.mark.parametrize("task,depth", [(None, 1), (None, 0), (PLANTED, 2)])
def test_every_declared_site_is_reached_with_its_declared_units(task, depth):
    run = run_spec(task=task, model={"name": "mlp", "params": {"width": 8, "d_embed": 4, "depth": depth}}, seeds=[0, 3])
    ctx = context(run)
    anatomy = MODELS.get("mlp").impl.architecture(run.model.params, TaskInfo.of(ctx.data))  # declared, not built
    out, acts = activations(ctx.model, ctx.data.x_val[:7], anatomy.sites)
    for site, units in anatomy.sites.items():
        assert acts[site].shape[:2] == (2, 7) and acts[site].shape[-1] == units, site
    torch.testing.assert_close(acts["logits"], out)
    torch.testing.assert_close(out, ctx.model(ctx.data.x_val[:7]))  # looking changes nothing


def test_every_registered_probe_leaves_no_hook_behind():
    run = run_spec(seeds=[0, 1], snapshots=[0])
    ctx = context(run, fit(run, log=lambda m: None).state)
    specs = {
        "activations": {}, "fourier": {}, "linear_probe": {"site": "hidden.0"}, "ablation": {"site": "hidden.0"},
        "localization": {"site": "embed"}, "patching": {}, "cka": {"site": "hidden.0"},
        "pruning": {"retrain_steps": 3},
    }
    assert set(specs) == set(PROBES.names()), "a new probe needs a line here"
    for name, params in specs.items():
        frame = compute(ctx, name=name, **params)
        assert list(frame.columns) == ["seed", "step", "metric", "site", "unit", "value"], name
        assert set(frame.seed) == {0, 1}, name
        assert ctx.model.site_hooks() == {}, name


def test_replace_units_ablates_each_seed_its_own_units():
    x = torch.ones(2, 3, 4)
    mask = torch.tensor([[True, False, False, False], [False, False, True, True]])
    out = replace_units(mask, torch.full((2, 4), 7.0))(x)
    assert out[0, :, 0].eq(7).all() and out[0, :, 1:].eq(1).all()
    assert out[1, :, 2:].eq(7).all() and out[1, :, :2].eq(1).all()


# --- linear probe ----------------------------------------------------------------------------


def test_linear_probe_decodes_a_planted_linear_feature_better_than_its_control():
    g = torch.Generator().manual_seed(0)
    acts = torch.randn(2, 1000, 20, generator=g)
    w = torch.randn(20, generator=g)
    target = (acts[0] @ w > 0).long().numpy()
    res = probe_accuracies(acts.numpy(), acts[0].numpy(), target, 0.5, 1.0, seed=0)
    assert res["accuracy"][0] >= 0.95
    # The activations are the input itself, so the control (random labels per coarse cell of the input) is
    # partly learnable too: above chance, below the planted feature.
    assert 0.6 < res["control_accuracy"][0] < res["accuracy"][0] - 0.1
    assert res["selectivity"][0] == pytest.approx(res["accuracy"][0] - res["control_accuracy"][0])
    # Seed 1's activations are unrelated noise: nothing to decode there, target or control.
    assert abs(res["accuracy"][1] - 0.5) < 0.08 and abs(res["control_accuracy"][1] - 0.5) < 0.08


@pytest.mark.parametrize("inputs", ["continuous", "tokens"])
def test_the_control_task_is_learnable_from_a_representation_that_encodes_the_input(inputs):
    # Hewitt & Liang's control must be learnable in principle: its labels are a function of a coarse cell of
    # the input that recurs between the probe's training and held-out examples. A representation that
    # encodes the cell (here: its one-hot, plus noise) decodes the control on held-out inputs. A random label
    # per distinct input could not be: held-out continuous inputs are all new, so it stays at chance.
    g = np.random.default_rng(0)
    x = g.normal(size=(1200, 16)) if inputs == "continuous" else g.integers(0, 11, size=(1200, 2))
    target = g.integers(0, 2, size=1200)
    cells = control_cells(x, seed=5)
    acts = np.eye(cells.max() + 1)[cells] + 0.05 * g.normal(size=(1200, cells.max() + 1))
    res = probe_accuracies(acts[None], x, target, 0.5, 1.0, seed=5)
    assert res["control_accuracy"][0] > 0.95
    assert 8 <= cells.max() + 1 <= 64 and np.bincount(cells).min() >= 5  # coarse: many inputs per cell


def test_linear_probe_on_the_planted_task_reads_the_planted_input():
    ctx = context(run_spec(task=PLANTED, model={"name": "mlp", "params": {"width": 8}}, seeds=[0, 1]))
    frame = compute(ctx, name="linear_probe", site="input", target="label")
    assert (value(frame, "accuracy") >= 0.95).all()
    assert (value(frame, "selectivity") > 0.05).all()  # the input encodes its cell too: the control is learnable


# --- CKA -------------------------------------------------------------------------------------


def test_cka_is_one_for_the_same_representation_and_its_rotations_and_low_for_unrelated_ones():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 12, generator=g)
    q, _ = torch.linalg.qr(torch.randn(12, 12, generator=g))
    assert linear_cka(x, x).item() == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, x @ q).item() == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, 3.5 * x @ q + 2.0).item() == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, torch.randn(500, 12, generator=g)).item() < 0.1


def test_cka_probe_between_a_site_and_itself_is_one():
    ctx = context(run_spec(seeds=[0, 1, 2]))
    frame = compute(ctx, name="cka", site="hidden.0", between="sites", other_site="hidden.0")
    np.testing.assert_allclose(value(frame, "cka"), 1.0, atol=1e-12)
    seeds = compute(ctx, name="cka", site="hidden.0")
    np.testing.assert_allclose(value(seeds, "cka_with_seed", unit=1)[1], 1.0, atol=1e-12)  # seed 1 with itself
    assert value(seeds, "cka")[0] < 1


def test_cka_between_seeds_gives_one_independent_value_per_disjoint_pair():
    # A seed's mean CKA with all the others would share runs with every other seed's value; the test then
    # treated dependent values as independent (a CI ~3x too narrow). One value per pair, under its first seed.
    ctx = context(run_spec(seeds=[0, 1, 2, 3, 4]))
    frame = compute(ctx, name="cka", site="hidden.0")
    cka = value(frame, "cka")
    np.testing.assert_allclose(cka[[0, 2]], [value(frame, "cka_with_seed", unit=1)[0],
                                             value(frame, "cka_with_seed", unit=3)[2]], atol=1e-12)
    assert np.isnan(cka[[1, 3, 4]]).all()  # partners, and the odd seed out
    assert PROBES.get("cka").impl.seed_pairs(PROBES.get("cka").params(name="cka", site="hidden.0"))


# --- ablation and localization ---------------------------------------------------------------


def test_ablating_a_component_the_output_does_not_depend_on_changes_nothing():
    ctx = context(run_spec(seeds=[0, 1]))
    with torch.no_grad():
        ctx.model.w1[:, 3, :] = 0  # hidden unit 3 no longer reaches the output
    for mode in ("zero", "mean"):
        frame = compute(ctx, name="ablation", site="hidden.0", behaviour="loss", mode=mode, split="all")
        assert (value(frame, "damage", unit=3) == 0).all()
        assert (np.abs(value(frame, "damage", unit=4)) > 0).all()


def test_ablating_the_planted_input_destroys_accuracy_and_nothing_else_does():
    ctx = planted_linear_model()
    frame = compute(ctx, name="ablation", site="input", mode="zero")
    assert (value(frame, "clean") == 1).all()
    assert (value(frame, "damage", unit=5) > 0.4).all()
    assert all((value(frame, "damage", unit=u) == 0).all() for u in range(16) if u != 5)
    assert (value(frame, "n_responsible") == 1).all()


def test_localization_names_the_planted_component_within_budget_and_agrees_with_exhaustive():
    ctx = planted_linear_model()
    frame = compute(ctx, name="localization", site="input", budget=10, expected=[5])
    assert (value(frame, "passes") <= 10).all()
    assert (value(frame, "found") == 1).all() and (value(frame, "named", unit=5) == 1).all()
    for metric in ("exact", "recall", "precision", "expected_exact"):
        assert (value(frame, metric) == 1).all(), metric
    assert (value(frame, "exhaustive_passes") == 17).all()


def test_localization_reports_an_unfinished_search_when_the_budget_is_too_small():
    frame = compute(planted_linear_model(), name="localization", site="input", budget=3)
    assert (value(frame, "passes") == 3).all()
    assert (value(frame, "complete") == 0).all() and (value(frame, "found") == 0).all()
    assert (value(frame, "recall") == 0).all() and (value(frame, "precision") == 1).all()


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_group_search_with_enough_budget_finds_exactly_the_responsible_set(n):
    rng = np.random.default_rng(n)
    for trial in range(30):
        truth = set(rng.choice(n, size=rng.integers(0, min(n, 4) + 1), replace=False).tolist())
        search = group_search(n, budget=10_000)
        passes = 1
        try:
            group = next(search)
            while True:
                passes += 1
                group = search.send(bool(truth & set(group)))
        except StopIteration as stop:
            found, used, complete = stop.value
        assert set(found) == truth and complete and used == passes
        if len(truth) == 1:
            assert used <= 2 * math.ceil(math.log2(n)) + 2 if n > 1 else used == 2


# --- patching --------------------------------------------------------------------------------


def test_patching_recovers_everything_at_the_output_and_nothing_where_the_output_does_not_look():
    ctx = planted_linear_model()
    frame = compute(ctx, name="patching", sites=["input", "logits"], per_unit=True, corrupt="example", split="all")
    np.testing.assert_allclose(value(frame[frame.site == "logits"], "recovery"), 1.0, atol=1e-9)
    np.testing.assert_allclose(value(frame[frame.site == "input"], "recovery"), 1.0, atol=1e-9)
    np.testing.assert_allclose(value(frame[frame.site == "input"], "recovery", unit=5), 1.0, atol=1e-9)
    np.testing.assert_allclose(value(frame[frame.site == "input"], "recovery", unit=6), 0.0, atol=1e-9)


def test_patching_a_site_every_path_runs_through_recovers_the_changed_token_on_modular_arithmetic():
    ctx = context(run_spec(seeds=[0, 1]))
    frame = compute(ctx, name="patching", corrupt="input.1", split="all")
    for site in ("embed", "hidden.0", "logits"):
        np.testing.assert_allclose(value(frame[frame.site == site], "recovery"), 1.0, atol=1e-9)


# --- Fourier ---------------------------------------------------------------------------------


def test_fourier_puts_a_pure_frequency_in_one_bin_and_spreads_noise():
    p, d = 23, 6
    t = torch.arange(p, dtype=torch.float64)
    phases = torch.linspace(0, 2, d)
    pure = torch.cos(2 * math.pi * 4 * t[:, None] / p + phases[None, :]) + 0.7  # frequency 4 plus a constant
    frac = frequency_power(pure[None])
    assert frac[0, 4].item() == pytest.approx(1.0, abs=1e-12)
    assert frac.sum().item() == pytest.approx(1.0, abs=1e-12)
    noise = frequency_power(torch.randn(1, p, 64, generator=torch.Generator().manual_seed(0)))
    assert noise.sort(descending=True).values[0, :3].sum().item() < 0.4


def test_fourier_probe_reads_the_embedding_of_every_seed():
    ctx = context(run_spec(seeds=[0, 1]))
    p = 11
    t = torch.arange(p, dtype=torch.float64)
    with torch.no_grad():
        ctx.model.embed[0] = torch.stack([torch.cos(2 * math.pi * 3 * t / p), torch.sin(2 * math.pi * 3 * t / p),
                                          torch.cos(2 * math.pi * 2 * t / p), torch.sin(2 * math.pi * 2 * t / p)], 1)
    frame = compute(ctx, name="fourier", top_k=2)
    top, keys = value(frame, "top_k_fraction"), value(frame, "key_frequencies")
    assert top[0] == pytest.approx(1.0) and keys[0] == 2
    assert top[1] < 0.9


# --- pruning ---------------------------------------------------------------------------------


def test_pruning_nothing_and_rewinding_to_init_retrains_the_same_model():
    run = run_spec(seeds=[0, 1], steps=30, batch_size=8)
    ctx = context(run, fit(run, log=lambda m: None).state)
    frame = compute(ctx, name="pruning", sparsity=0.0)
    np.testing.assert_allclose(value(frame, "rewind_val_loss"), value(frame, "dense_val_loss"), rtol=1e-5)
    assert (value(frame, "sparsity") == 0).all()
    assert not np.allclose(value(frame, "fresh_val_loss"), value(frame, "dense_val_loss"))


def test_magnitude_masks_reach_the_sparsity_and_retraining_keeps_pruned_weights_at_zero():
    from refute.components.probes.pruning import magnitude_masks, retrain

    run = run_spec(seeds=[0, 1], steps=20)
    ctx = context(run, fit(run, log=lambda m: None).state)
    state = ctx.model.state_dict()
    for scope in ("global", "layer"):
        masks = magnitude_masks(state, 0.75, scope)
        assert set(masks) == {"embed", "w0", "w1"}  # matrices, not biases
        kept = sum(m.reshape(2, -1).sum(1) for m in masks.values()).double()
        total = sum(m[0].numel() for m in masks.values())
        np.testing.assert_allclose(kept / total, 0.25, atol=0.01)
    retrain(run, ctx.data, ctx.model, masks, steps=5)
    for name, m in masks.items():
        assert (getattr(ctx.model, name)[~m] == 0).all()


# --- snapshots -------------------------------------------------------------------------------


def test_a_snapshot_at_step_s_is_the_model_trained_for_s_steps():
    full = fit(run_spec(seeds=[0, 2], steps=30, batch_size=8, snapshots=[0, 10, 30]), log=lambda m: None)
    assert sorted(full.snapshots) == [0, 10, 30]
    short = fit(run_spec(seeds=[0, 2], steps=10, batch_size=8), log=lambda m: None)
    init = context(run_spec(seeds=[0, 2])).model.state_dict()
    for k in short.state:
        torch.testing.assert_close(full.snapshots[10][k], short.state[k], rtol=0, atol=0)
        torch.testing.assert_close(full.snapshots[30][k], full.state[k], rtol=0, atol=0)
        torch.testing.assert_close(full.snapshots[0][k], init[k], rtol=0, atol=0)
