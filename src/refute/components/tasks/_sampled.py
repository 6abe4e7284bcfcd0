"""Parameters shared by tasks that draw examples from a known distribution."""

from __future__ import annotations

from pydantic import Field

from refute.registry import Params


class SampledTask(Params):
    n_train: int = Field(1000, ge=1, le=10_000_000, description="training set size (examples drawn once, fixed by data_seed)")
    n_val: int = Field(1000, ge=1, le=1_000_000, description="validation set size (fresh examples from the same distribution)")
    data_seed: int = Field(0, ge=0, description="seed of the task itself (teacher, relevant bits) and its fixed data sets")
    online: bool = Field(
        False,
        description="draw a fresh training batch every step (train.batch_size examples per seed, n_train when "
        "'full'); the fixed training set then only measures training metrics",
    )
