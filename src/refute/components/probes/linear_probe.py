"""linear_probe: decode a target from a site's activations with a linear classifier, against a control task.

Held-out accuracy alone says little: a probe can memorize. So the same probe is also fit on a
control task (Hewitt & Liang 2019): random labels, drawn from the target's own distribution, given
to the inputs by a function of the input that the representation has no reason to "know".
Selectivity = accuracy − control accuracy is what the probe reports.

The control must be learnable in principle, or selectivity is just accuracy minus chance. Hewitt &
Liang label word *types*, which recur between the probe's training and held-out tokens. A label per
distinct input does not recur when inputs are continuous (every held-out input is new), so here the
unit that gets a label is a coarse cell of the input: the signs of a few random projections of the
(standardized; one-hot for tokens) input, with enough examples per cell that every cell appears on
both sides of the split. A representation that encodes where an input lies can learn the control; one
that does not cannot.

Health certificate (refute.components.certificates): `accuracy.certified` is 1 when the logistic
regression on the target converged within `max_iter`; `control_accuracy.certified` and
`selectivity.certified` need the control's fit to have converged too. Beside them: the iterations each
fit took (`<metric>.iterations`) and `selectivity.control_gap`, the control's accuracy above its own
majority rate (near 0: the representation does not encode the control's cells, so selectivity is close
to accuracy minus chance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re

import numpy as np
from pydantic import Field, field_validator

from refute.components.certificates import certificate_of, companion
from refute.components.probes import ExampleParams, ProbeContext, Split, Table, check_site
from refute.components.probes.hooks import activations
from refute.components.probes import PROBES, Probe

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec
    import torch


TARGET = re.compile(r"^(label|input\.(\d+))$")


class LinearProbeParams(ExampleParams):
    site: str = Field(description="the site whose activations are decoded, e.g. hidden.0")
    target: str = Field("label", description="what to decode: 'label' (the task's class) or 'input.<i>' (token i)")
    split: Split = Field("all", description="which examples to use: train, val or all")
    test_fraction: float = Field(0.5, gt=0, lt=1, description="held-out share of the examples, for accuracy")
    C: float = Field(1.0, gt=0, description="inverse L2 regularization strength of the logistic regression")
    seed: int = Field(0, ge=0, description="seed of the held-out split and of the control task's labels")
    max_iter: int = Field(2000, ge=1, description="iterations the logistic regression may take; a fit that needs "
                                                  "more is not converged, and its values fail their certificate")

    @field_validator("target")
    @classmethod
    def _known_target(cls, v: str) -> str:
        if not TARGET.match(v):
            raise ValueError("must be 'label' or 'input.<i>' (the i-th input token)")
        return v


def targets(target: str, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    m = TARGET.match(target)
    return (y if m.group(2) is None else x[:, int(m.group(2))]).numpy()


EXAMPLES_PER_CELL = 40  # on average, so that each cell has examples on both sides of the split
MAX_BITS = 10


def control_cells(x: np.ndarray, seed: int) -> np.ndarray:
    """The coarse cell of each input: the signs of `bits` random projections, as one integer per example.
    Token inputs are one-hot per position first, so a cell is a function of the tokens."""
    flat = x.reshape(len(x), -1)
    if np.issubdtype(flat.dtype, np.integer):
        flat = np.concatenate([np.eye(int(col.max()) + 1)[col] for col in flat.T], axis=1)
    flat = flat.astype(float)
    sd = flat.std(0)
    z = (flat - flat.mean(0)) / np.where(sd > 0, sd, 1.0)
    bits = int(np.clip(np.floor(np.log2(len(x) / EXAMPLES_PER_CELL)), 1, MAX_BITS))
    signs = z @ np.random.default_rng(seed).normal(size=(z.shape[1], bits)) > 0
    return signs.astype(int) @ (1 << np.arange(bits))


def control_targets(x: np.ndarray, target: np.ndarray, rng: np.random.Generator, seed: int) -> np.ndarray:
    """Each cell of inputs gets a random label drawn from the targets (see control_cells)."""
    cells = control_cells(x, seed)
    return rng.choice(target, size=int(cells.max()) + 1)[cells]


def fit_score(features: np.ndarray, target: np.ndarray, train: np.ndarray, C: float,
              max_iter: int = 2000) -> tuple[float, float, int, bool]:
    """Held-out accuracy of a standardized logistic regression, the majority-class rate (chance), the
    iterations the solver took, and whether it converged (stopped before max_iter)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    test = ~train
    classes, counts = np.unique(target[train], return_counts=True)
    majority = float(np.mean(target[test] == classes[np.argmax(counts)]))
    if len(classes) < 2:
        return majority, majority, 0, True
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # recorded in the certificate instead
        clf.fit(features[train], target[train])
    iterations = int(np.max(clf[-1].n_iter_))
    return float(clf.score(features[test], target[test])), majority, iterations, iterations < max_iter


def probe_accuracies(acts: np.ndarray, x: np.ndarray, target: np.ndarray, test_fraction: float, C: float,
                     seed: int, max_iter: int = 2000) -> dict[str, np.ndarray]:
    """acts: [S, N, D] -> per seed: accuracy, control_accuracy, selectivity, majority, and the health
    certificates of the first three (see the module's docstring), named as refute.components.certificates says."""
    rng = np.random.default_rng(seed)
    train = np.ones(len(target), dtype=bool)
    train[rng.permutation(len(target))[: max(1, round(test_fraction * len(target)))]] = False
    control = control_targets(x, target, rng, seed)
    names = ("accuracy", "control_accuracy", "selectivity", "majority", "control_majority", "iterations",
             "control_iterations", "converged", "control_converged")
    res = {k: np.full(len(acts), np.nan) for k in names}
    for i, a in enumerate(acts):
        if not np.isfinite(a).all():
            continue  # a diverged seed: no probe
        res["accuracy"][i], res["majority"][i], res["iterations"][i], res["converged"][i] = \
            fit_score(a, target, train, C, max_iter)
        (res["control_accuracy"][i], res["control_majority"][i], res["control_iterations"][i],
         res["control_converged"][i]) = fit_score(a, control, train, C, max_iter)
    res["selectivity"] = res["accuracy"] - res["control_accuracy"]
    both = np.where(np.isnan(res["converged"]), np.nan, res["converged"] * res["control_converged"])
    out = {k: res[k] for k in ("accuracy", "control_accuracy", "selectivity", "majority")}
    out.update({
        certificate_of("accuracy"): res["converged"],
        companion("accuracy", "iterations"): res["iterations"],
        certificate_of("control_accuracy"): both,
        companion("control_accuracy", "iterations"): res["control_iterations"],
        certificate_of("selectivity"): both,
        companion("selectivity", "control_gap"): res["control_accuracy"] - res["control_majority"],
    })
    return out


@PROBES.register("linear_probe", LinearProbeParams)
class LinearProbe(Probe):
    """held-out accuracy of a linear decoder of a target, with a control task (selectivity)"""

    def check(self, p: LinearProbeParams, run: RunSpec, anatomy: Architecture) -> list[str]:
        from refute.components.tasks import task_info

        issues = check_site(p.site, anatomy, run.model.name)
        data = task_info(run.task)
        m = TARGET.match(p.target)
        if m.group(2) is not None and (data.inputs != "tokens" or int(m.group(2)) >= data.in_dim):
            issues.append(f"target: {p.target!r} needs a token task with more than {m.group(2)} input tokens")
        if m.group(2) is None and data.objective != "classification":
            issues.append("target: 'label' needs a classification task")
        return issues

    def outputs(self, p: LinearProbeParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]:
        return [(m, p.site) for m in ("accuracy", "control_accuracy", "selectivity", "majority")]

    def compute(self, p: LinearProbeParams, ctx: ProbeContext) -> Table:
        x, y = ctx.examples(p.split, p.max_examples, seed=p.seed)
        _, acts = activations(ctx.model, x, [p.site])
        a = acts[p.site].flatten(2).double().numpy()  # [S, N, features]
        res = probe_accuracies(a, x.numpy(), targets(p.target, x, y), p.test_fraction, p.C, p.seed, p.max_iter)
        t = Table(ctx.seeds)
        for metric, values in res.items():
            t.add(metric, values, site=p.site)
        return t
