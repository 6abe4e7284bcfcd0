"""Scoped hooks on a model's named sites: every hook lives exactly as long as its `with` block.

A hook is a function of the site's tensor ([S, B, ..., units], seed-batched); it returns None to
only look, or a tensor to replace the activation (ablation, patching). `hooked` removes what it
added on exit, also when the block raises, so no probe can leave a model altered.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    import torch

Hook = Callable[["torch.Tensor"], "torch.Tensor | None"]


@contextmanager
def hooked(model, hooks: dict[str, Hook]) -> Iterator[None]:
    """Attach `hooks` (site name -> function) for the duration of the block."""
    table = model.site_hooks()
    added: list[tuple[str, Hook]] = []
    try:
        for name, fn in hooks.items():
            table.setdefault(name, []).append(fn)
            added.append((name, fn))
        yield
    finally:
        for name, fn in added:
            fns = table.get(name, [])
            for i, f in enumerate(fns):
                if f is fn:
                    del fns[i]
                    break
            if not fns:
                table.pop(name, None)


@contextmanager
def capture(model, sites) -> Iterator[dict[str, torch.Tensor]]:
    """Record the activations at `sites` during the block's forward passes (the last pass wins)."""
    import torch

    store: dict[str, torch.Tensor] = {}

    def grab(name: str) -> Hook:
        def fn(x: torch.Tensor) -> None:
            store[name] = x.detach()

        return fn

    with hooked(model, {s: grab(s) for s in sites}):
        yield store


def forward(model, x: torch.Tensor, hooks: dict[str, Hook] | None = None) -> torch.Tensor:
    """One forward pass without gradients, with `hooks` attached only for that pass."""
    import torch

    with torch.no_grad(), hooked(model, hooks or {}):
        return model(x)


def activations(model, x: torch.Tensor, sites) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The output and the activations at `sites` for inputs x, from one forward pass."""
    import torch

    sites = list(sites)
    with torch.no_grad(), capture(model, sites) as acts:
        out = model(x)
    missing = [s for s in sites if s not in acts]
    if missing:
        raise KeyError(f"the forward pass never reached site(s) {missing}")
    return out, dict(acts)


def replace_units(mask: torch.Tensor, values: torch.Tensor | float) -> Hook:
    """A hook setting the units where mask [S, units] is true to `values` ([S, units] or a number).

    Each seed has its own mask, so one forward pass runs a different intervention per seed.
    """
    import torch


    def fn(x: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        v = values if isinstance(values, (int, float)) else values.reshape(shape).to(x.dtype)
        return torch.where(mask.reshape(shape), v, x)

    return fn
