"""Top Hessian eigenvalue of every seed at once, from Hessian-vector products.

Seeds are independent, so the Hessian of the summed loss is block-diagonal by seed: one HVP of
the summed loss applies every seed's own Hessian to that seed's slice of the vector. Inner
products and normalizations are taken per seed (over dims 1.. of every parameter), so each seed
runs its own Lanczos (or power) iteration inside the same batched passes.

Cost per evaluation: one gradient with its graph, then `iters` HVPs (each about two backward
passes through the model on the chosen examples).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

Vec = list[torch.Tensor]  # one tensor per parameter, each [S, ...]


def dot(a: Vec, b: Vec) -> torch.Tensor:
    """Per-seed inner product, [S]."""
    return sum((x * y).flatten(1).sum(1) for x, y in zip(a, b))


def _scale(a: Vec, c: torch.Tensor) -> Vec:
    return [x * c.view(-1, *[1] * (x.dim() - 1)).to(x.dtype) for x in a]


def _axpy(a: Vec, c: torch.Tensor, b: Vec) -> Vec:
    """a - c * b, with c per seed."""
    return [x - y * c.view(-1, *[1] * (y.dim() - 1)).to(y.dtype) for x, y in zip(a, b)]


def hvp_fn(loss: torch.Tensor, params: Sequence[torch.Tensor]) -> Callable[[Vec], Vec]:
    """v -> H v for the Hessian of `loss` (a scalar: the sum of per-seed losses)."""
    grads = torch.autograd.grad(loss, params, create_graph=True)

    def hvp(v: Vec) -> Vec:
        return [h.detach() for h in torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)]

    return hvp


def start_vector(params: Sequence[torch.Tensor], seeds: list[int]) -> Vec:
    """A random direction per seed, from that seed's own generator (independent of batch-mates)."""
    per_seed = []
    for s in seeds:
        g = torch.Generator().manual_seed(int(s) + 104729)
        per_seed.append([torch.randn(p.shape[1:], generator=g, dtype=p.dtype) for p in params])
    return [torch.stack([v[i] for v in per_seed]) for i in range(len(params))]


def top_eigenvalue(hvp: Callable[[Vec], Vec], v0: Vec, iters: int = 20, method: str = "lanczos") -> torch.Tensor:
    """The largest (algebraic) eigenvalue per seed, [S] float64 (see top_eigenpair)."""
    return top_eigenpair(hvp, v0, iters, method)[0]


def top_eigenpair(hvp: Callable[[Vec], Vec], v0: Vec, iters: int = 20,
                  method: str = "lanczos") -> tuple[torch.Tensor, torch.Tensor]:
    """The largest (algebraic) eigenvalue per seed, [S] float64, and its health certificate: the relative
    residual ‖Hv − θv‖ / |θ| of the Ritz pair (θ, v) it reports, [S] (some eigenvalue of H lies within
    the residual of θ). For Lanczos the residual is β_k·|y_k| (the next Lanczos coefficient times the
    last component of T's top eigenvector), exact under full reorthogonalization, so it costs no HVP.

    Lanczos with full reorthogonalization: `iters` HVPs give the top Ritz value, which converges
    much faster than power iteration and, unlike it, does not need the top eigenvalue to be
    the largest in magnitude. `power` is plain power iteration (the eigenvalue of largest
    magnitude, with its sign), kept for comparison.
    """
    if method == "power":
        return _power(hvp, v0, iters)
    S = v0[0].shape[0]
    q = _scale(v0, dot(v0, v0).rsqrt())
    basis: list[Vec] = [q]
    alpha = torch.zeros(S, iters, dtype=torch.float64)
    beta = torch.zeros(S, iters, dtype=torch.float64)
    size = torch.full((S,), iters, dtype=torch.long)  # Krylov dimension reached per seed
    for j in range(iters):
        w = hvp(q)
        a = dot(w, q)
        alpha[:, j] = a.double()
        for b in basis:  # full reorthogonalization: cheap for a few dozen vectors, and stable
            w = _axpy(w, dot(w, b), b)
        nb = dot(w, w).clamp_min(0).sqrt()
        beta[:, j] = nb.double()
        # A seed whose Krylov space is exhausted (an invariant subspace) stops growing its matrix.
        done = (nb <= 1e-6 * alpha[:, : j + 1].abs().max(1).values.clamp_min(1e-30).float()) & (size == iters)
        size[done] = j + 1
        if j == iters - 1 or bool((size <= j + 1).all()):
            break
        q = _scale(w, torch.where(nb > 0, 1.0 / nb, torch.zeros_like(nb)))
        basis.append(q)
    out = torch.empty(S, dtype=torch.float64)
    residual = torch.full((S,), float("nan"), dtype=torch.float64)
    for s in range(S):
        k = int(size[s])
        T = torch.diag(alpha[s, :k]) + torch.diag(beta[s, : k - 1], 1) + torch.diag(beta[s, : k - 1], -1)
        # A diverged seed (non-finite weights) has no curvature to report; the others still do.
        if not torch.isfinite(T).all():
            out[s] = float("nan")
            continue
        out[s] = torch.linalg.eigvalsh(T).max()
        _, vectors = torch.linalg.eigh(T)
        residual[s] = beta[s, k - 1] * vectors[-1, -1].abs() / out[s].abs().clamp_min(1e-300)
    return out, residual


def _power(hvp: Callable[[Vec], Vec], v0: Vec, iters: int) -> torch.Tensor:
    v = _scale(v0, dot(v0, v0).rsqrt())
    lam = torch.zeros(v0[0].shape[0], dtype=torch.float64)
    residual = torch.full_like(lam, float("nan"))
    for _ in range(iters):
        w = hvp(v)
        lam = dot(w, v).double()
        r = _axpy(w, lam, v)  # Hv − λv, with v of unit norm
        residual = dot(r, r).double().clamp_min(0).sqrt() / lam.abs().clamp_min(1e-300)
        v = _scale(w, dot(w, w).clamp_min(1e-30).rsqrt())
    return lam, residual
