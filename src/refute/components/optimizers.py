"""Optimizers, registered by name, and the learning-rate schedules and gradient clipping around them.

All optimizers act elementwise, so seeds stacked in one tensor stay independent; clipping is per
seed for the same reason (one norm across seeds would let one seed's gradient shrink another's).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import defaultdict
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Union

from pydantic import Field

from refute.registry import ComponentRef, Params, Registry

if TYPE_CHECKING:
    from refute.components.models import Architecture


class OptimizerRule(ABC):
    """An optimizer: builds its Optimizer over parameter groups. `adaptive`: its step is invariant to the
    gradient's scale (Adam), so muP scales its learning rates differently."""

    adaptive: ClassVar[bool]

    @abstractmethod
    def build(self, p: Params, groups: list[dict], train) -> Optimizer: ...


OPTIMIZERS: Registry[OptimizerRule] = Registry("optimizer", __name__, contract=OptimizerRule)


class OptimizerRef(ComponentRef):
    """`train.optimizer`: a name (adamw, adam, sgd) or {name, params}."""

    registry: ClassVar[Registry] = OPTIMIZERS


class AdamParams(Params):
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam's moment decay rates")
    eps: float = Field(1e-8, gt=0, description="Adam's denominator epsilon")


class SGDParams(Params):
    momentum: float = Field(0.0, ge=0, lt=1, description="heavy-ball momentum (0: plain (full-batch) gradient descent)")
    nesterov: bool = Field(False, description="Nesterov momentum")


class Optimizer:
    """An elementwise update rule over parameter groups, and the per-parameter state it keeps.

    torch.optim's functional kernels do the arithmetic (the numbers are those of torch.optim.Adam,
    AdamW and SGD); the classes around them are not used because their first use imports
    torch._dynamo (~0.8 s per job, more than a small model's whole training) and each of their
    steps adds ~0.2 ms of bookkeeping. The learning rate is a function of the step (see lr_factor),
    so the only state is the per-parameter moments.
    """

    def __init__(self, groups: list[dict], rule, hyper: dict):
        # Each group: its parameters and its base learning rate (train.lr x its muP multiplier).
        self.param_groups = [{"params": list(g["params"]), "base_lr": g["lr"], "lr": g["lr"]} for g in groups]
        self.rule, self.hyper = rule, hyper
        self.state: dict = {}  # id(param) -> {name: tensor}

    def zero_grad(self) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                p.grad = None

    def set_lr_factor(self, factor: float) -> None:
        for g in self.param_groups:
            g["lr"] = g["base_lr"] * factor

    def step(self) -> None:
        import torch

        with torch.no_grad():
            for g in self.param_groups:
                params = [p for p in g["params"] if p.grad is not None]
                if params:
                    self.rule(params, [self.state.setdefault(id(p), {}) for p in params], g["lr"], **self.hyper)

    def state_dict(self) -> dict:
        """The per-parameter state, in parameter order (parameters with no state yet have {})."""
        return {"state": [self.state.get(id(p), {}) for g in self.param_groups for p in g["params"]]}

    def load_state_dict(self, saved: dict) -> None:
        params = [p for g in self.param_groups for p in g["params"]]
        if len(saved["state"]) != len(params):
            raise ValueError(f"optimizer state for {len(saved['state'])} parameters, model has {len(params)}")
        self.state = {id(p): {k: v.to(p.device, copy=True) for k, v in s.items()}
                      for p, s in zip(params, saved["state"]) if s}


# Torch's fused CPU Adam works through a tensor in units of 16 floats (one cache line; every CPU vector width
# divides it) and gives a tensor's last partial unit to a scalar loop, whose rounding differs from the vector
# lanes'. Which elements of a seed-batched tensor fall there depends on how many seeds share it; so every
# element is given to the vector lanes: the whole units in place, the rest in padded units of their own.
UNIT = 16


def _adam_rule(decoupled: bool):
    def rule(params, states, lr, betas, eps, weight_decay):
        import torch

        for p, s in zip(params, states):
            if not s:  # as torch.optim.Adam initialises it (fused kernels keep the step as float32)
                s["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                s["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                s["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1)  # what torch.optim.adam does before its fused kernel
        todo: list[list] = [[], [], [], [], []]  # params, grads, first and second moments, steps
        rest = []  # (the four tensors flat, their step, the elements past the last whole unit)
        for p, s, step in zip(params, states, steps):
            four = (p, p.grad, s["exp_avg"], s["exp_avg_sq"])
            n = p.numel()
            r = n % UNIT
            if r:
                four = tuple(x.view(-1) for x in four)
                rest.append((four, step, r))
                if n == r:
                    continue
                four = tuple(x[: n - r] for x in four)
            for lst, x in zip(todo, (*four, step)):
                lst.append(x)
        # The rest as a unit of its own: a copy of the tensor's last 16 elements (those before the rest are
        # updated in place too, identically, and the copy's are dropped), or the rest padded with zeros.
        units = [tuple(x[-UNIT:].clone() if x.numel() >= UNIT else torch.cat([x, x.new_zeros(UNIT - r)]) for x in four)
                 for four, _, r in rest]
        for unit, (_, step, _) in zip(units, rest):
            for lst, x in zip(todo, (*unit, step)):
                lst.append(x)
        kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
        kernel(*todo[:4], [], todo[4], lr=lr, beta1=betas[0], beta2=betas[1], weight_decay=weight_decay,
               eps=eps, amsgrad=False, maximize=False)
        for (four, _, r), unit in zip(rest, units):
            at = UNIT - r if four[0].numel() >= UNIT else 0
            for i in (0, 2, 3):  # the parameter and its moments (the gradient is only read)
                four[i][-r:].copy_(unit[i][at:at + r])

    return rule


def _sgd_rule(params, states, lr, momentum, nesterov, weight_decay):
    from torch.optim.sgd import sgd as sgd_kernel

    buffers = [s.get("momentum_buffer") for s in states]
    sgd_kernel(params, [p.grad for p in params], buffers, foreach=True, weight_decay=weight_decay,
               momentum=momentum, lr=lr, dampening=0.0, nesterov=nesterov, maximize=False)
    if momentum:  # the kernel creates the buffers on the first step
        for s, b in zip(states, buffers):
            s["momentum_buffer"] = b


@OPTIMIZERS.register("adamw", AdamParams)
class AdamW(OptimizerRule):
    """AdamW: Adam with decoupled weight decay"""

    adaptive = True

    def build(self, p: AdamParams, groups: list[dict], train) -> Optimizer:
        return Optimizer(groups, _adam_rule(decoupled=True), {"betas": p.betas, "eps": p.eps,
                                                              "weight_decay": train.weight_decay})


@OPTIMIZERS.register("adam", AdamParams)
class Adam(OptimizerRule):
    """Adam; weight_decay is an L2 penalty added to the gradient"""

    adaptive = True

    def build(self, p: AdamParams, groups: list[dict], train) -> Optimizer:
        return Optimizer(groups, _adam_rule(decoupled=False), {"betas": p.betas, "eps": p.eps,
                                                               "weight_decay": train.weight_decay})


@OPTIMIZERS.register("sgd", SGDParams)
class SGD(OptimizerRule):
    """SGD (gradient descent when full batch), optional momentum; weight_decay is an L2 penalty"""

    adaptive = False

    def build(self, p: SGDParams, groups: list[dict], train) -> Optimizer:
        return Optimizer(groups, _sgd_rule, {"momentum": p.momentum, "nesterov": p.nesterov,
                                             "weight_decay": train.weight_decay})


def build(train, model, arch: Architecture) -> Optimizer:
    """The run's optimizer over the model's parameters, one group per learning-rate multiplier (muP)."""
    return build_over(train, list(model.named_parameters()), arch)


def build_over(train, named: list[tuple[str, object]], arch: Architecture) -> Optimizer:
    """The run's optimizer over (name, tensor) pairs: a model's parameters, or views of one run's lanes of a
    batched model shared with other runs (refute.training.lanes)."""
    rule = OPTIMIZERS.get(train.optimizer.name).impl
    mult = arch.lr_multipliers(rule.adaptive)
    groups = defaultdict(list)
    for pname, param in named:
        groups[mult.get(pname, 1.0)].append(param)
    return rule.build(train.optimizer.params, [{"params": ps, "lr": train.lr * m} for m, ps in groups.items()], train)


# --- learning-rate schedules: a factor on every group's learning rate, by step -----------------


class Constant(Params):
    name: Literal["constant"] = Field(description="the learning rate stays at train.lr")


class Warmup(Params):
    name: Literal["warmup"] = Field(description="linear warmup from 0 to train.lr, then constant")
    warmup_steps: int = Field(gt=0, description="steps of linear warmup")


class Cosine(Params):
    name: Literal["cosine"] = Field(description="optional linear warmup, then cosine decay to final_fraction × lr")
    warmup_steps: int = Field(0, ge=0, description="steps of linear warmup before the decay")
    final_fraction: float = Field(0.0, ge=0, le=1, description="the learning rate at the last step, as a fraction of lr")


Schedule = Annotated[Union[Constant, Warmup, Cosine], Field(discriminator="name")]


def lr_factor(schedule, step: int, steps: int) -> float:
    """The multiplier on the base learning rate for the update at `step` (0-based) of `steps`."""
    warm = getattr(schedule, "warmup_steps", 0)
    if step < warm:
        return (step + 1) / warm
    if schedule.name != "cosine":
        return 1.0
    progress = (step - warm) / max(1, steps - 1 - warm)
    return schedule.final_fraction + (1 - schedule.final_fraction) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


# --- clipping ------------------------------------------------------------------------------------


def clip_per_seed(params, max_norm):
    """Scale each seed's gradient (dim 0 of every parameter) to global L2 norm at most `max_norm` (a number,
    or one per seed: infinity leaves a seed's gradient as it is).
    Returns the norms before clipping, [S]."""
    import torch

    grads = [p.grad for p in params if p.grad is not None]
    # Summed parameter by parameter: a reduction across a stack of them rounds by how many seeds it holds.
    norms = sum(g.pow(2).flatten(1).sum(1) for g in grads).sqrt()
    # `max_norm / t` is torch's reciprocal-then-multiply; written out, so a per-seed limit (a tensor: runs
    # packed together, refute.training.lanes) rounds as a number does.
    scale = ((norms + 1e-6).reciprocal() * max_norm).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))
    return norms


def update(opt: Optimizer, model, loss, grad_clip: float | None, lr_factor: float = 1.0, backward=None) -> None:
    """One optimizer step on the summed per-seed losses (each seed's gradient is its own), with
    per-seed clipping, at the schedule's rate for this step: the update shared by training and retraining.
    `backward`: what puts the gradients into .grad (objectives.training_loss's); by default autograd's."""
    opt.zero_grad()
    backward() if backward is not None else loss.sum().backward()
    if grad_clip is not None:
        clip_per_seed(model.parameters(), grad_clip)
    opt.set_lr_factor(lr_factor)
    opt.step()
