"""The hypothesis-level analysis plan: how predictions are judged together (part of the pre-registration)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from refute.registry import Params


class AnalysisPlan(Params):
    correction: Literal["holm", "bh", "none"] = Field(
        "holm",
        description="correction of p across the hypothesis's predictions: holm (family-wise error, the default), "
        "bh (Benjamini–Hochberg false discovery rate) or none",
    )
    failed_runs: Literal["invalid", "against"] = Field(
        "invalid",
        description="a diverged run (non-finite loss) makes the verdict INVALID (invalid, the default), or counts "
        "against the predictions that read it as their least favourable outcome (against; needs a rank or count test)",
    )
