"""Per-seed losses and accuracies: every function returns one value per seed, shape [S].

Targets come stacked per seed, [S, B] (classes) or [S, B, k] (regression); a target shared by all
seeds can be passed as an expanded view, which costs no copy.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

aten = torch.ops.aten


def loss(out: torch.Tensor, y: torch.Tensor, objective: str) -> torch.Tensor:
    """Mean loss of each seed; out: [S, B, C]."""
    S, B = out.shape[:2]
    if objective == "classification":
        return F.cross_entropy(out.reshape(S * B, -1), y.reshape(-1), reduction="none").view(S, B).mean(1)
    return ((out - y.reshape(S, B, -1)) ** 2).sum(-1).mean(1)


def training_loss(model, x: torch.Tensor, y: torch.Tensor, batched: bool, objective: str
                  ) -> tuple[torch.Tensor, Callable[[], None]]:
    """Each seed's mean loss on a training batch, [S], and a backward() that adds d(sum of the losses)/d(parameters)
    to the parameters' .grad. A model with a written-out backward (`manual_forward`, e.g. the mlp) skips autograd's
    bookkeeping; its numbers are autograd's bit for bit. Otherwise it is autograd: loss(model(x)).sum().backward()."""
    # On the CPU only: that is where it is tested bit for bit against autograd (no GPU here to check it on).
    manual = getattr(model, "manual_forward", None) if x.device.type == "cpu" else None
    run = manual(x, batched) if manual is not None and objective in ("classification", "regression") else None
    if run is None:
        per_seed = loss(model(x, batched=batched), y, objective)
        return per_seed, lambda: per_seed.sum().backward()
    out, backward_out = run
    per_seed, grad_out = _loss_and_grad(out, y, objective)
    return per_seed, lambda: backward_out(grad_out())


def _loss_and_grad(out: torch.Tensor, y: torch.Tensor, objective: str
                   ) -> tuple[torch.Tensor, Callable[[], torch.Tensor]]:
    """loss(out, y, objective) without autograd, and a function giving d(sum of the losses)/d(out) by the kernels
    autograd's backward of `loss` calls (torch's derivatives.yaml), so bit for bit its gradient."""
    S, B = out.shape[:2]
    with torch.no_grad():
        if objective == "classification":  # F.cross_entropy, unfolded: log-softmax, then the picked entries
            target = y.reshape(-1)
            log_p = torch._log_softmax(out.reshape(S * B, -1), 1, False)
            per_example, total_weight = aten.nll_loss_forward(log_p, target, None, 0, -100)
            per_seed = per_example.view(S, B).mean(1)
        else:
            diff = out - y.reshape(S, B, -1)
            per_seed = (diff ** 2).sum(-1).mean(1)

    def grad_out() -> torch.Tensor:
        with torch.no_grad():
            g = torch.ones(S, dtype=out.dtype, device=out.device).unsqueeze(1).expand(S, B) / B  # sum, then mean(1)
            if objective == "classification":
                g = aten.nll_loss_backward(g.reshape(-1), log_p, target, None, 0, -100, total_weight)
                return aten._log_softmax_backward_data(g, log_p, 1, out.dtype).view(out.shape)
            return g.unsqueeze(-1).expand(diff.shape) * (2.0 * diff.pow(1.0))  # sum(-1), then ** 2

    return per_seed, grad_out


def accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (out.argmax(-1) == y).float().mean(-1)


def shared(y: torch.Tensor, n_seeds: int) -> torch.Tensor:
    """A target shared by all seeds, as a [S, ...] view."""
    return y.expand(n_seeds, *y.shape)
