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
    last, bias, vocab = model.n_layers - 1, model.bias, model.vocab
    params = model._parameters  # read directly: nn.Module's attribute lookup costs more than the small kernels
    ws, bs = [params[f"w{i}"] for i in range(last + 1)], [params.get(f"b{i}") for i in range(last + 1)]
    with torch.no_grad():
        if vocab:
            embed = params["embed"]
            flat = embed.reshape(-1, embed.shape[-1])
            idx = x + model.offsets
            embedded = F.embedding(idx, flat)
            h = embedded.flatten(2)
        else:
            h = x.flatten(2)
        inputs, pres, posts = [], [], []  # each layer's input; each hidden layer's pre- and post-activation
        for i, (w, b) in enumerate(zip(ws, bs)):
            inputs.append(h)
            h = torch.baddbmm(b, h, w) if bias else torch.bmm(h, w)
            if i < last:
                pres.append(h)
                h = model.act(h)
                posts.append(h)
    act_backward = ACTIVATION_BACKWARD[model.activation_name]

    def backward(g: torch.Tensor) -> None:
        with torch.no_grad():
            for i in range(last, -1, -1):
                if i < last:
                    g = act_backward(g, pres[i], posts[i])
                if i > 0 or vocab:  # the grad of the layer's input (dense inputs need none)
                    g_in = g.bmm(ws[i].transpose(1, 2))
                accumulate(ws[i], inputs[i].transpose(1, 2).bmm(g))
                if bias:  # baddbmm broadcasts its [S, 1, out] bias over the batch: summed back
                    accumulate(bs[i], g.sum([1], keepdim=True))
                if i > 0 or vocab:
                    g = g_in
            if vocab:
                g = aten.embedding_backward(g.reshape(embedded.shape), idx, flat.shape[0], -1, False, False)
                accumulate(embed, g.reshape(embed.shape))

    return h, backward


def accumulate(p: torch.nn.Parameter, grad: torch.Tensor) -> None:
    """Add grad to p.grad as autograd's AccumulateGrad does (a first gradient is kept in p's layout)."""
    if p.grad is None:
        p.grad = grad if grad.stride() == p.stride() else torch.empty_like(p).copy_(grad)
    else:
        p.grad += grad
