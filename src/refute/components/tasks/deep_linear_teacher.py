"""Deep-linear teacher: y = W* x with W* = U diag(s) Vᵀ of chosen singular values (Saxe et al. 2014).

Each teacher mode (u_i, s_i, v_i) is stored in `info`, so observables can follow how strongly a
network has learned each mode.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from refute.components.tasks import TASKS
from refute.components.tasks import Task, TaskData, TaskInfo
from refute.components.tasks._sampled import SampledTask


class DeepLinearTeacher(SampledTask):
    d_in: int = Field(8, ge=1, le=4096, description="input dimension")
    d_out: int = Field(8, ge=1, le=4096, description="output dimension")
    singular_values: list[float] = Field(
        [4.0, 2.0, 1.0, 0.5], min_length=1, description="the teacher's singular values s_i (mode i in this order)"
    )
    noise: float = Field(0.0, ge=0, description="standard deviation of Gaussian noise added to training targets")
    whiten: bool = Field(
        True,
        description="make the training inputs exactly white (mean-free, covariance I), as in Saxe et al.; "
        "needs n_train >= d_in",
    )

    @model_validator(mode="after")
    def _shapes(self):
        if len(self.singular_values) > min(self.d_in, self.d_out):
            raise ValueError(f"{len(self.singular_values)} singular values need d_in and d_out >= that many")
        if any(s <= 0 for s in self.singular_values):
            raise ValueError("singular values must be > 0")
        if self.whiten and self.n_train <= self.d_in:
            raise ValueError(f"whiten needs n_train > d_in ({self.n_train} <= {self.d_in})")
        return self


def orthonormal(g, n: int, r: int):
    import torch

    q, rr = torch.linalg.qr(torch.randn(n, r, generator=g))
    return q * torch.sign(torch.diagonal(rr))  # a Haar-random frame, not one biased by QR's sign convention


@TASKS.register("deep_linear_teacher", DeepLinearTeacher)
class DeepLinearTeacherTask(Task):
    """Gaussian inputs, targets from a linear map with chosen singular values"""

    provides = frozenset({"dense"})

    def info(self, p: DeepLinearTeacher) -> TaskInfo:
        return TaskInfo(p.n_train, p.n_val, "dense", p.d_in, p.d_out, "regression", online=p.online)

    def build(self, p: DeepLinearTeacher) -> TaskData:
        import torch

        g = torch.Generator().manual_seed(p.data_seed)
        r = len(p.singular_values)
        s = torch.tensor(p.singular_values)
        U, V = orthonormal(g, p.d_out, r), orthonormal(g, p.d_in, r)
        W = U @ torch.diag(s) @ V.T  # [d_out, d_in]

        def draw(gen: torch.Generator, n: int, noise: float):
            x = torch.randn(n, p.d_in, generator=gen)
            y = x @ W.T
            return x, y + noise * torch.randn(y.shape, generator=gen) if noise else y

        x_tr = torch.randn(p.n_train, p.d_in, generator=g)
        if p.whiten:
            x_tr = x_tr - x_tr.mean(0)
            evals, evecs = torch.linalg.eigh(x_tr.T @ x_tr / p.n_train)
            x_tr = x_tr @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T
        y_tr = x_tr @ W.T
        if p.noise:
            y_tr = y_tr + p.noise * torch.randn(y_tr.shape, generator=g)
        x_va, y_va = draw(g, p.n_val, 0.0)
        return TaskData(x_tr, y_tr, x_va, y_va, inputs="dense", in_dim=p.d_in, out_dim=p.d_out, objective="regression",
                        sample=lambda gen, n: draw(gen, n, p.noise), online=p.online,
                        info={"teacher_U": U, "teacher_V": V, "teacher_s": s})
