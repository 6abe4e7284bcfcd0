"""In-context linear regression (Garg et al. 2022): each sequence has its own weight vector w.

A sequence is n_points tokens [x_t, y_t, 0] with y_t = w·x_t/√d (+ noise) for the context, and a
final query token [x_q, 0, 1]; the target is y_q. The flag in the last coordinate marks the
query, so a model knows which y it must supply.
"""

from __future__ import annotations

from pydantic import Field

from refute.components.tasks import TASKS
from refute.components.tasks import Task, TaskData, TaskInfo
from refute.components.tasks._sampled import SampledTask


class InContextRegression(SampledTask):
    dim: int = Field(4, ge=1, le=512, description="dimension d of x and of each sequence's weight vector w")
    n_points: int = Field(16, ge=2, le=1024, description="tokens per sequence: n_points − 1 context pairs and one query")
    noise: float = Field(0.0, ge=0, description="standard deviation of noise on every y (context and query)")


@TASKS.register("in_context_regression", InContextRegression)
class InContextRegressionTask(Task):
    """sequences of (x, w·x) pairs with a fresh w per sequence; predict y at the query"""

    provides = frozenset({"sequence"})

    def info(self, p: InContextRegression) -> TaskInfo:
        return TaskInfo(p.n_train, p.n_val, "sequence", p.dim + 2, 1, "regression", seq_len=p.n_points, online=p.online)

    def build(self, p: InContextRegression) -> TaskData:
        import torch

        d, T = p.dim, p.n_points

        def draw(gen: torch.Generator, n: int):
            w = torch.randn(n, d, generator=gen)
            x = torch.randn(n, T, d, generator=gen)
            y = torch.einsum("ntd,nd->nt", x, w) / d**0.5
            if p.noise:
                y = y + p.noise * torch.randn(y.shape, generator=gen)
            tokens = torch.zeros(n, T, d + 2)
            tokens[:, :, :d] = x
            tokens[:, :-1, d] = y[:, :-1]
            tokens[:, -1, d + 1] = 1.0
            return tokens, y[:, -1:]

        g = torch.Generator().manual_seed(p.data_seed)
        x_tr, y_tr = draw(g, p.n_train)
        x_va, y_va = draw(g, p.n_val)
        return TaskData(x_tr, y_tr, x_va, y_va, inputs="sequence", in_dim=d + 2, out_dim=1, objective="regression",
                        seq_len=T, sample=draw, online=p.online)
