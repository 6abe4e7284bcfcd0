"""Teacher–student regression: targets from a random teacher network of chosen width and depth."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from refute.components.tasks import TASKS
from refute.components.tasks import Task, TaskData, TaskInfo
from refute.components.tasks._sampled import SampledTask


class TeacherStudent(SampledTask):
    d_in: int = Field(16, ge=1, le=4096, description="input dimension (inputs are standard Gaussian)")
    d_out: int = Field(1, ge=1, le=4096, description="output dimension")
    teacher_width: int = Field(32, ge=1, le=65536, description="units per hidden layer of the teacher")
    teacher_depth: int = Field(1, ge=0, le=16, description="hidden layers of the teacher (0: a linear teacher)")
    teacher_activation: Literal["relu", "gelu", "tanh", "linear"] = Field("relu", description="the teacher's nonlinearity")
    noise: float = Field(0.0, ge=0, description="standard deviation of Gaussian noise added to training targets")


def teacher_forward(weights: list, x, act):
    h = x
    for i, w in enumerate(weights):
        h = h @ w
        if i < len(weights) - 1:
            h = act(h)
    return h


@TASKS.register("teacher_student", TeacherStudent)
class TeacherStudentTask(Task):
    """Gaussian inputs labelled by a random teacher MLP"""

    provides = frozenset({"dense"})

    def info(self, p: TeacherStudent) -> TaskInfo:
        return TaskInfo(p.n_train, p.n_val, "dense", p.d_in, p.d_out, "regression", online=p.online)

    def build(self, p: TeacherStudent) -> TaskData:
        import torch

        from refute.components.models import activation

        g = torch.Generator().manual_seed(p.data_seed)
        dims = [p.d_in] + [p.teacher_width] * p.teacher_depth + [p.d_out]
        # Weights N(0, 1/fan_in) keep every layer's output of order one, whatever the width.
        weights = [torch.randn(a, b, generator=g) / a**0.5 for a, b in zip(dims[:-1], dims[1:])]
        act = activation(p.teacher_activation)

        def draw(gen: torch.Generator, n: int, noise: float):
            x = torch.randn(n, p.d_in, generator=gen)
            y = teacher_forward(weights, x, act)
            return x, y + noise * torch.randn(y.shape, generator=gen) if noise else y

        x_tr, y_tr = draw(g, p.n_train, p.noise)
        x_va, y_va = draw(g, p.n_val, 0.0)
        return TaskData(x_tr, y_tr, x_va, y_va, inputs="dense", in_dim=p.d_in, out_dim=p.d_out, objective="regression",
                        sample=lambda gen, n: draw(gen, n, p.noise), online=p.online, info={"teacher_weights": weights})
