"""patching: activation patching between clean and corrupted inputs, per site (and per unit).

Each clean example is paired with a corrupted one that has another answer: a different example
(`corrupt: example`), or the same example with only input token i changed (`corrupt: input.<i>`).
The behaviour is the logit difference LD = logit[clean answer] − logit[corrupted answer]. Running
the corrupted input with one site's activations taken from the clean run shows how much of the
clean behaviour that site carries: recovery = (LD_patched − LD_corrupt) / (LD_clean − LD_corrupt),
1 when the site carries all of it, 0 when none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from refute.components.probes import ExampleParams, ProbeContext, Table, check_sites, chosen_sites
from refute.components.tasks import task_info
from refute.components.probes.hooks import activations, forward
from refute.components.probes import PROBES, Probe

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec
    import torch


CORRUPT = re.compile(r"^(example|input\.(\d+))$")


class PatchingParams(ExampleParams):
    sites: list[str] | None = Field(None, description="the sites to patch, one at a time (default: every site)")
    corrupt: str = Field("example", description="'example' (another example) or 'input.<i>' (only token i changes)")
    per_unit: bool = Field(False, description="also patch each unit of each site alone (one pass per unit)")
    seed: int = Field(0, ge=0, description="seed of the clean/corrupted pairing")

    @field_validator("corrupt")
    @classmethod
    def _known(cls, v: str) -> str:
        if not CORRUPT.match(v):
            raise ValueError("must be 'example' or 'input.<i>'")
        return v


def pair_examples(x: torch.Tensor, y: torch.Tensor, pool_x: torch.Tensor, pool_y: torch.Tensor, corrupt: str,
                  seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clean (x, y) and, for each, a corrupted (x', y') from the pool with y' != y; unpairable examples are dropped."""
    import torch

    rng = np.random.default_rng(seed)
    m = CORRUPT.match(corrupt)
    px, py = pool_x.reshape(len(pool_x), -1).numpy(), pool_y.numpy()
    if m.group(2) is None:
        groups = {(): np.arange(len(px))}
        key = lambda row: ()  # noqa: E731
    else:
        i = int(m.group(2))
        others = [c for c in range(px.shape[1]) if c != i]
        frame = pd.DataFrame(px[:, others])
        groups = {k if isinstance(k, tuple) else (k,): v for k, v in frame.groupby(list(frame.columns)).indices.items()}
        key = lambda row: tuple(row[others])  # noqa: E731
    keep, partner = [], []
    flat = x.reshape(len(x), -1).numpy()
    for n, (row, label) in enumerate(zip(flat, y.numpy())):
        cands = groups.get(key(row), np.array([], dtype=int))
        cands = cands[py[cands] != label]
        if len(cands):
            keep.append(n)
            partner.append(rng.choice(cands))
    keep_t, partner_t = torch.as_tensor(keep, dtype=torch.long), torch.as_tensor(partner, dtype=torch.long)
    return x[keep_t], y[keep_t], pool_x[partner_t], pool_y[partner_t]


def logit_diff(out: torch.Tensor, y: torch.Tensor, y_corr: torch.Tensor) -> torch.Tensor:
    """[S]: mean over examples of logit[y] − logit[y_corr]."""
    import torch

    idx = torch.arange(out.shape[1])
    return (out[:, idx, y] - out[:, idx, y_corr]).double().mean(1)


def patch_hook(clean: torch.Tensor, unit: int | None = None):
    import torch

    def fn(x: torch.Tensor) -> torch.Tensor:
        if unit is None:
            return clean
        out = x.clone()
        out[..., unit] = clean[..., unit]
        return out

    return fn


@PROBES.register("patching", PatchingParams)
class Patching(Probe):
    """how much of the clean behaviour each site carries into a corrupted run (recovery)"""

    def check(self, p: PatchingParams, run: RunSpec, anatomy: Architecture) -> list[str]:
        issues = check_sites(p.sites, anatomy, run.model.name)
        data = task_info(run.task)
        if data.objective != "classification":
            issues.append("patching measures a logit difference and needs a classification task")
        m = CORRUPT.match(p.corrupt)
        if m.group(2) is not None and (data.inputs != "tokens" or int(m.group(2)) >= data.in_dim):
            issues.append(f"corrupt: {p.corrupt!r} needs a token task with more than {m.group(2)} input tokens")
        return issues

    def outputs(self, p: PatchingParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]:
        return [("recovery", s) for s in chosen_sites(p.sites, anatomy)] + [("clean_logit_diff", ""),
                                                                        ("corrupt_logit_diff", "")]

    def compute(self, p: PatchingParams, ctx: ProbeContext) -> Table:
        import torch

        d = ctx.data
        x, y = ctx.examples(p.split, p.max_examples, seed=p.seed)
        pool_x, pool_y = torch.cat([d.x_train, d.x_val]), torch.cat([d.y_train, d.y_val])
        x, y, xc, yc = pair_examples(x, y, pool_x, pool_y, p.corrupt, p.seed)
        if len(x) == 0:
            raise ValueError(f"no example could be paired with a corrupted one ({p.corrupt}) of another answer")
        sites = chosen_sites(p.sites, ctx.anatomy)
        out_clean, clean = activations(ctx.model, x, sites)
        ld_clean = logit_diff(out_clean, y, yc)
        ld_corr = logit_diff(forward(ctx.model, xc), y, yc)
        scale = ld_clean - ld_corr

        def recovery(hooks) -> torch.Tensor:
            return (logit_diff(forward(ctx.model, xc, hooks), y, yc) - ld_corr) / scale

        t = Table(ctx.seeds)
        t.add("clean_logit_diff", ld_clean)
        t.add("corrupt_logit_diff", ld_corr)
        for s in sites:
            t.add("recovery", recovery({s: patch_hook(clean[s])}), site=s)
            if p.per_unit:
                for u in range(clean[s].shape[-1]):
                    t.add("recovery", recovery({s: patch_hook(clean[s], u)}), site=s, unit=u)
        return t
