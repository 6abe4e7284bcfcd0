"""The mlp's training pass written out: its forward pass without autograd recording, and a backward that calls
the kernels autograd would call (torch's derivatives.yaml), on the same tensors, in the same order.

Why: on small seed-batched models autograd's bookkeeping (recording the graph, the engine's nodes, accumulating
gradients) costs about a third of a training step (benchmarks/step_profile.md); the arithmetic is autograd's, so
the gradients are too, bit for bit (tests/test_fast_step.py checks every activation, with and without bias, on
token and dense inputs, with torch.equal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F

from refute.components.models import per_seed_inputs

if TYPE_CHECKING:
    from refute.components.models._mlp_net import MLP

aten = torch.ops.aten

# d(activation)/d(pre-activation) applied to grad, as autograd computes it: (grad, pre, post) -> grad of pre.
ACTIVATION_BACKWARD: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "relu": lambda g, pre, post: aten.threshold_backward(g, post, 0),
    "gelu": lambda g, pre, post: aten.gelu_backward(g, pre, approximate="none"),
    "tanh": lambda g, pre, post: aten.tanh_backward(g, post),
    "linear": lambda g, pre, post: g,
}


def forward(model: MLP, x: torch.Tensor, batched: bool) -> tuple[torch.Tensor, Callable[[torch.Tensor], None]]:
    """The model's output [S, B, out], as MLP.forward computes it, and a backward(grad of the output) that adds
    the parameters' gradients to their .grad as autograd's backward would."""
    x = per_seed_inputs(x, model.n_seeds, batched)
    last = model.n_layers - 1
    with torch.no_grad():
        if model.vocab:
            flat = model.embed.reshape(-1, model.embed.shape[-1])
            idx = x + model.offsets
            embedded = F.embedding(idx, flat)
            h = embedded.flatten(2)
        else:
            h = x.flatten(2)
        inputs, pres, posts = [], [], []  # each layer's input; each hidden layer's pre- and post-activation
        for i in range(model.n_layers):
            w = getattr(model, f"w{i}")
            inputs.append(h)
            h = torch.baddbmm(getattr(model, f"b{i}"), h, w) if model.bias else torch.bmm(h, w)
            if i < last:
                pres.append(h)
                h = model.act(h)
                posts.append(h)
    act_backward = ACTIVATION_BACKWARD[model.activation_name]

    def backward(g: torch.Tensor) -> None:
        grads = {}
        with torch.no_grad():
            for i in reversed(range(model.n_layers)):
                if i < last:
                    g = act_backward(g, pres[i], posts[i])
                w = getattr(model, f"w{i}")
                if i > 0 or model.vocab:  # the grad of the layer's input (dense inputs need none)
                    g_in = g.bmm(w.transpose(1, 2))
                grads[f"w{i}"] = inputs[i].transpose(1, 2).bmm(g)
                if model.bias:  # baddbmm broadcasts its [S, 1, out] bias over the batch: summed back
                    grads[f"b{i}"] = g.sum([1], keepdim=True)
                if i > 0 or model.vocab:
                    g = g_in
            if model.vocab:
                g = aten.embedding_backward(g.reshape(embedded.shape), idx, flat.shape[0], -1, False, False)
                grads["embed"] = g.reshape(model.embed.shape)
            for name, grad in grads.items():
                accumulate(getattr(model, name), grad)

    return h, backward


def accumulate(p: torch.nn.Parameter, grad: torch.Tensor) -> None:
    """Add grad to p.grad as autograd's AccumulateGrad does (a first gradient is kept in p's layout)."""
    if p.grad is None:
        p.grad = grad if grad.stride() == p.stride() else torch.empty_like(p).copy_(grad)
    else:
        p.grad += grad
