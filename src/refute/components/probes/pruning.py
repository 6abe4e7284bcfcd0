"""pruning: magnitude pruning with rewinding, the lottery-ticket experiment (Frankle & Carbin 2019).

Prune the probed weights to a sparsity by magnitude; then retrain the sparse network twice with
the run's own optimizer and data order: from the original initialization (or the weights at an
early snapshot: rewinding, Frankle et al. 2020), and from a fresh random initialization with the
same mask. A winning ticket trains better from its original initialization. Matrices are pruned
(weights and embeddings), biases are not. Reports validation loss (and accuracy) of the dense
model, the pruned model before retraining, and both retrained ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from refute.components import optimizers
from refute.components.probes import ProbeContext, ProbeParams, Table
from refute.components.models import build_model
from refute.components.models import architecture_of
from refute.components.probes import PROBES, Probe

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec
    import torch


FRESH_SEED_OFFSET = 1_000_003  # fresh initializations come from seeds no run uses


class PruningParams(ProbeParams):
    sparsity: float = Field(0.8, ge=0, lt=1, description="fraction of the prunable weights set to zero")
    scope: Literal["global", "layer"] = Field(
        "global", description="rank weights by magnitude across all pruned matrices, or within each"
    )
    rewind_step: int = Field(0, ge=0, description="retrain from the weights at this step: 0 (initialization) or a snapshot")
    retrain_steps: int | None = Field(None, gt=0, description="optimizer steps of each retraining (default: train.steps)")


def prunable(state: dict[str, torch.Tensor]) -> list[str]:
    """Matrices (per seed at least 2-D with both sides > 1), not biases."""
    return [k for k, v in state.items() if v.dim() >= 3 and min(v.shape[1:]) > 1]


def magnitude_masks(state: dict[str, torch.Tensor], sparsity: float, scope: str) -> dict[str, torch.Tensor]:
    """Per seed, keep the largest-magnitude (1 − sparsity) of the prunable weights."""
    import torch

    names = prunable(state)
    S = next(iter(state.values())).shape[0]

    def cut(mags: torch.Tensor) -> torch.Tensor:  # [S, n] -> per-seed threshold [S, 1]
        k = int(round(sparsity * mags.shape[1]))
        if k == 0:
            return torch.full((S, 1), -1.0, dtype=mags.dtype)
        return mags.kthvalue(k, dim=1).values.unsqueeze(1)

    masks = {}
    if scope == "global":
        mags = torch.cat([state[n].abs().reshape(S, -1) for n in names], dim=1)
        thr = cut(mags)
        for n in names:
            masks[n] = (state[n].abs().reshape(S, -1) > thr).reshape(state[n].shape)
    else:
        for n in names:
            mags = state[n].abs().reshape(S, -1)
            masks[n] = (mags > cut(mags)).reshape(state[n].shape)
    return masks


def apply_masks(model, masks: dict[str, torch.Tensor]) -> None:
    import torch

    with torch.no_grad():
        params = dict(model.named_parameters())
        for n, m in masks.items():
            params[n].mul_(m.to(params[n].dtype))


def retrain(run: RunSpec, data, model, masks: dict[str, torch.Tensor], steps: int) -> None:
    """The run's training loop on a sparse model: the mask is reapplied after every update."""
    from refute.components import objectives
    from refute.components.batches import Batches

    train = run.train
    opt = optimizers.build(train, model, architecture_of(run))
    batches = Batches(data, train.batch_size, list(run.seeds))
    apply_masks(model, masks)
    for step in range(steps):
        x, y, batched = batches.next()
        loss = objectives.loss(model(x, batched=batched), y, data.objective)
        optimizers.update(opt, model, loss, train.grad_clip, optimizers.lr_factor(train.schedule, step, steps))
        apply_masks(model, masks)


def evaluate(model, data) -> dict[str, torch.Tensor]:
    import torch

    from refute.components import objectives

    with torch.no_grad():
        out = model(data.x_val)
    res = {"val_loss": objectives.loss(out, objectives.shared(data.y_val, model.n_seeds), data.objective)}
    if data.objective == "classification":
        res["val_acc"] = objectives.accuracy(out, data.y_val)
    return res


@PROBES.register("pruning", PruningParams)
class Pruning(Probe):
    """lottery tickets: retrain a magnitude-pruned network from its original vs a fresh initialization"""

    def check(self, p: PruningParams, run: RunSpec, anatomy: Architecture) -> list[str]:
        if p.rewind_step and p.rewind_step not in run.train.snapshots:
            return [f"rewind_step: no weights are kept at step {p.rewind_step}; add it to train.snapshots"]
        return []

    def outputs(self, p: PruningParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]:
        from refute.components.tasks import task_info

        metrics = ["val_loss", "val_acc"] if task_info(run.task).objective == "classification" else ["val_loss"]
        return [(f"{v}_{m}", "") for v in ("dense", "pruned", "rewind", "fresh") for m in metrics] + [
            ("rewind_advantage", ""), ("sparsity", "")]

    def compute(self, p: PruningParams, ctx: ProbeContext) -> Table:
        run, data = ctx.run, ctx.data
        state = {k: v.detach().clone() for k, v in ctx.model.state_dict().items()}
        masks = magnitude_masks(state, p.sparsity, p.scope)
        steps = p.retrain_steps or run.train.steps
        t = Table(ctx.seeds)
        results = {"dense": evaluate(ctx.model, data)}

        pruned = build_model(run, data, ctx.seeds)
        pruned.load_state_dict(state)
        apply_masks(pruned, masks)
        results["pruned"] = evaluate(pruned, data)

        rewound = build_model(run, data, ctx.seeds)  # the original initialization: the same seeds
        if p.rewind_step:
            rewound.load_state_dict(ctx.states[p.rewind_step])
        retrain(run, data, rewound, masks, steps)
        results["rewind"] = evaluate(rewound, data)

        fresh = build_model(run, data, [s + FRESH_SEED_OFFSET for s in ctx.seeds])
        retrain(run, data, fresh, masks, steps)
        results["fresh"] = evaluate(fresh, data)

        for variant, res in results.items():
            for metric, v in res.items():
                t.add(f"{variant}_{metric}", v)
        if data.objective == "classification":
            t.add("rewind_advantage", results["rewind"]["val_acc"] - results["fresh"]["val_acc"])
        else:
            t.add("rewind_advantage", results["fresh"]["val_loss"] - results["rewind"]["val_loss"])
        kept = sum(m.reshape(ctx.n_seeds, -1).sum(1) for m in masks.values())
        total = sum(m[0].numel() for m in masks.values())
        t.add("sparsity", 1 - kept.double() / max(total, 1))
        return t
