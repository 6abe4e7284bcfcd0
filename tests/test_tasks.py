"""Tasks: each builds the data it promises, deterministically, at the requested size."""

import pytest
import torch
from pydantic import ValidationError

from refute.components.tasks import TASKS


def build(name, **params):
    entry = TASKS.get(name)
    return entry.impl.build(entry.params(**params))


@pytest.mark.parametrize("name", ["modular_arithmetic", "sparse_parity", "deep_linear_teacher", "digits",
                                  "teacher_student", "in_context_regression"])
def test_every_task_takes_a_training_set_size_and_is_deterministic(name):
    a, b = build(name, n_train=40), build(name, n_train=40)
    assert len(a.x_train) == len(a.y_train) == 40
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert torch.equal(a.x_val, b.x_val) and len(a.x_val) == len(a.y_val) > 0


@pytest.mark.parametrize("name,params", [
    ("modular_arithmetic", {}), ("modular_arithmetic", {"p": 13, "op": "/", "n_train": 50}),
    ("modular_arithmetic", {"p": 11, "train_fraction": 0.5}), ("modular_arithmetic", {"p": 13, "op": "-"}),
    ("modular_arithmetic", {"p": 7, "op": "*", "train_fraction": 0.9}),
    ("sparse_parity", {"n_bits": 12, "n_train": 30, "n_val": 7}), ("deep_linear_teacher", {"d_in": 5, "d_out": 4}),
    ("digits", {"n_train": 100, "n_val": 50}), ("teacher_student", {"d_in": 6, "d_out": 2}),
    ("in_context_regression", {"dim": 3, "n_points": 5, "n_train": 20}), ("planted_feature", {"n_features": 9}),
])
def test_a_tasks_declared_info_is_what_its_data_turns_out_to_be(name, params):
    """Checking hypotheses and sizing jobs read TaskInfo instead of building the data (and importing torch)."""
    from refute.components.tasks import TaskInfo

    entry = TASKS.get(name)
    assert entry.impl.info(entry.params(**params)) == TaskInfo.of(build(name, **params))


def test_every_task_declares_its_info():
    assert [n for n in TASKS.names() if not hasattr(TASKS.get(n).impl, "info")] == []


def test_sparse_parity_labels_are_the_parity_of_the_relevant_bits():
    d = build("sparse_parity", n_bits=12, k=3, n_train=500)
    rel = d.info["relevant_bits"]
    assert len(rel) == 3 and set(d.x_train.unique().tolist()) == {-1.0, 1.0}
    odd = ((d.x_train[:, rel] < 0).sum(1) % 2).long()
    assert torch.equal(d.y_train, odd) and torch.equal(d.y_val, ((d.x_val[:, rel] < 0).sum(1) % 2).long())
    # Flipping an irrelevant bit never changes the label.
    irrelevant = next(i for i in range(12) if i not in rel.tolist())
    x = d.x_train.clone()
    x[:, irrelevant] *= -1
    assert torch.equal(((x[:, rel] < 0).sum(1) % 2).long(), d.y_train)


def test_sparse_parity_label_noise_flips_training_labels_only():
    d = build("sparse_parity", n_bits=10, k=2, n_train=4000, n_val=1000, label_noise=0.2)
    rel = d.info["relevant_bits"]
    clean = lambda x: ((x[:, rel] < 0).sum(1) % 2).long()  # noqa: E731
    flipped = (d.y_train != clean(d.x_train)).float().mean().item()
    assert 0.17 < flipped < 0.23
    assert torch.equal(d.y_val, clean(d.x_val))


def test_online_sampling_is_fixed_by_the_generator():
    d = build("sparse_parity", n_bits=8, k=2, online=True)
    x1, y1 = d.sample(torch.Generator().manual_seed(3), 16)
    x2, y2 = d.sample(torch.Generator().manual_seed(3), 16)
    x3, _ = d.sample(torch.Generator().manual_seed(4), 16)
    assert d.online and torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)


def test_deep_linear_teacher_has_the_chosen_singular_values_and_white_inputs():
    d = build("deep_linear_teacher", d_in=6, d_out=5, singular_values=[3.0, 1.0, 0.5], n_train=300)
    U, V, s = d.info["teacher_U"], d.info["teacher_V"], d.info["teacher_s"]
    W = U @ torch.diag(s) @ V.T
    torch.testing.assert_close(torch.linalg.svdvals(W)[:3], torch.tensor([3.0, 1.0, 0.5]))
    torch.testing.assert_close(d.y_train, d.x_train @ W.T)
    torch.testing.assert_close(d.x_train.T @ d.x_train / 300, torch.eye(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(d.x_train.mean(0), torch.zeros(6), atol=1e-6, rtol=0)


def test_deep_linear_teacher_rejects_more_modes_than_dimensions():
    with pytest.raises(ValidationError, match="singular values need"):
        TASKS.get("deep_linear_teacher").params(d_in=2, d_out=2, singular_values=[1.0, 2.0, 3.0])


def test_digits_label_noise_randomizes_the_stated_fraction_of_training_labels():
    clean = build("digits", n_train=1000, n_val=500)
    noisy = build("digits", n_train=1000, n_val=500, label_noise=0.5)
    assert torch.equal(clean.x_train, noisy.x_train) and torch.equal(clean.y_val, noisy.y_val)
    wrong = (noisy.y_train != clean.y_train)
    assert torch.equal(wrong, noisy.info["noisy"])
    # Half the labels are redrawn uniformly over 10 classes, so about 0.5 × 0.9 end up wrong.
    assert 0.40 < wrong.float().mean().item() < 0.50
    assert clean.image_shape == (1, 8, 8) and clean.x_train.max() <= 1.0
    random_labels = build("digits", n_train=1000, n_val=500, label_noise=1.0)
    assert 0.85 < (random_labels.y_train != clean.y_train).float().mean().item() < 0.95


def test_digits_sizes_must_fit_the_data_set():
    with pytest.raises(ValidationError, match="exceeds the 1797"):
        TASKS.get("digits").params(n_train=1500, n_val=500)


def test_teacher_student_targets_come_from_the_teacher():
    d = build("teacher_student", d_in=5, d_out=2, teacher_depth=0, n_train=50)
    (w,) = d.info["teacher_weights"]
    torch.testing.assert_close(d.y_train, d.x_train @ w)
    deep = build("teacher_student", d_in=5, teacher_width=7, teacher_depth=2, teacher_activation="relu")
    w0, w1, w2 = deep.info["teacher_weights"]
    torch.testing.assert_close(deep.y_val, torch.relu(torch.relu(deep.x_val @ w0) @ w1) @ w2)


def test_in_context_regression_query_is_solved_by_least_squares_on_the_context():
    d = build("in_context_regression", dim=3, n_points=8, n_train=20)
    x, ctx_y = d.x_train[:, :, :3], d.x_train[:, :-1, 3]
    assert (d.x_train[:, -1, 3:] == torch.tensor([0.0, 1.0])).all() and (d.x_train[:, :-1, 4] == 0).all()
    # Noise-free: the context's least-squares weights predict the query's target exactly.
    w = torch.linalg.lstsq(x[:, :-1], ctx_y.unsqueeze(-1)).solution
    torch.testing.assert_close((x[:, -1:] @ w).squeeze(-1), d.y_train, atol=1e-4, rtol=0)


def test_modular_arithmetic_takes_a_size_or_a_fraction_but_not_both():
    assert len(build("modular_arithmetic", p=11, n_train=30).x_train) == 30
    assert len(build("modular_arithmetic", p=11, train_fraction=0.5).x_train) == 60
    with pytest.raises(ValidationError, match="not both"):
        TASKS.get("modular_arithmetic").params(p=11, n_train=30, train_fraction=0.5)


def test_digits_are_read_exactly_as_scikit_learn_loads_them():
    from sklearn.datasets import load_digits

    from refute.components.tasks.digits import load

    pixels, target = load()
    d = load_digits()
    assert (pixels == d.data).all() and (target == d.target).all()
