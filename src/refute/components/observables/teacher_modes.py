"""teacher_modes: how much of each teacher mode a linear network has learned (Saxe et al. 2014).

For the deep_linear_teacher task's modes (u_i, s_i, v_i), mode_strength_i = u_iᵀ W v_i / s_i, where
W is the network's end-to-end map: 0 at a small initialization, 1 once the mode is learned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from refute.components.observables import EvalContext, ObservableParams
from refute.components.observables._linear import check_linear, end_to_end
from refute.components.observables import OBSERVABLES, Observable

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec


@OBSERVABLES.register("teacher_modes", ObservableParams)
class TeacherModes(Observable):
    """mode_strength_i: the network's strength on teacher mode i as a fraction of s_i (task deep_linear_teacher)"""

    def metric_names(self, p: ObservableParams, run: RunSpec, arch: Architecture) -> list[str]:
        if run.task.name != "deep_linear_teacher":
            raise ValueError(f"observable 'teacher_modes' needs task deep_linear_teacher, not {run.task.name!r}")
        check_linear(run, "teacher_modes")
        return [f"mode_strength_{i}" for i in range(len(run.task.params.singular_values))]

    def compute(self, p: ObservableParams, ctx: EvalContext) -> dict:
        import torch

        info = ctx.data.info
        U, V, s = info["teacher_U"], info["teacher_V"], info["teacher_s"]
        W = end_to_end(ctx.model, ctx.data.in_dim)  # [S, d_in, d_out]: y = x W
        strength = torch.einsum("ir,sio,or->sr", V, W, U) / s
        return {f"mode_strength_{i}": strength[:, i] for i in range(len(s))}
