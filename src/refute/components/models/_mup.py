"""Maximal-update parameterization (muP; Yang & Hu 2021, Tables 3 and 8), relative to a base width.

Each weight has a role by how its shape grows with width m = width / base_width:
- input:  one dimension grows (first-layer weights, embeddings, hidden biases);
- hidden: both grow (hidden-to-hidden weights);
- output: the input dimension grows (readout weights);
- fixed:  neither grows (the readout bias).
muP divides the readout's initial weights by √m (std ∝ 1/fan_in instead of 1/√fan_in) and scales each role's learning rate as below; at
m = 1 it is the standard parameterization exactly, so a base model's tuned lr transfers to width.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["input", "hidden", "output", "fixed"]

# Learning-rate multiplier per role as a power of m, for adaptive (Adam) and plain (SGD) optimizers.
LR_POWER: dict[bool, dict[str, int]] = {
    True: {"input": 0, "hidden": -1, "output": -1, "fixed": 0},
    False: {"input": 1, "hidden": 0, "output": -1, "fixed": 0},
}


def lr_multipliers(roles: dict[str, Role], width_mult: float, adaptive: bool) -> dict[str, float]:
    """Parameter name -> learning-rate multiplier."""
    return {name: width_mult ** LR_POWER[adaptive][role] for name, role in roles.items()}
