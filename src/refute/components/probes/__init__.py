"""What probes share: common parameters, the context a probe runs in, and its tidy output table."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from refute.components.tasks import TASKS, built
from refute.components.models import Architecture, architecture_of
from refute.registry import SLUG, Params, Registry, flat

# pandas where a table is made: the run spec imports this module, and a training job need not load it.
if TYPE_CHECKING:
    import pandas as pd
    import torch

    from refute.components.models import Architecture
    from refute.components.tasks import TaskData
    from refute.spec.schema import RunSpec

VALUE_COLUMNS = ["seed", "step", "metric", "site", "unit", "value"]
Split = Literal["train", "val", "all"]


class ProbeParams(Params):
    name: str = Field(description="the probe, e.g. linear_probe or cka")
    id: str | None = Field(
        None, pattern=SLUG,
        description="names the probe's outputs in predictions (<id>/<metric>@<site>); default: the probe's name",
    )
    steps: Literal["final", "snapshots"] | list[int] = Field(
        "final",
        description="which weights to probe: 'final', 'snapshots' (every train.snapshots step and the final "
        "step), or a list of steps, each the final step or a snapshot",
    )
    conditions: list[str] | None = Field(None, description="the conditions to probe (default: all of them)")

    @property
    def label(self) -> str:
        return self.id or self.name


class Probe(ABC):
    """A probe: measurements of a trained run's model at kept steps.

    `check` lists what is wrong with the probe for a run (its model's Architecture: sites, token matrices)
    as "field: message" strings; `outputs` names the (metric, site) summaries predictions may use;
    `compute` measures one step and returns its Table.
    """

    @abstractmethod
    def check(self, p: ProbeParams, run: RunSpec, anatomy: Architecture) -> list[str]: ...

    @abstractmethod
    def outputs(self, p: ProbeParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]: ...

    @abstractmethod
    def compute(self, p: ProbeParams, ctx: ProbeContext) -> Table: ...

    def reference(self, p: ProbeParams) -> tuple[str, str] | None:
        """(condition, site) whose model this probe also needs, if any."""
        return None

    def seed_pairs(self, p: ProbeParams) -> bool:
        """True when each value compares two seeds: the probe records one value per disjoint pair of seeds
        (seeds 0–1, 2–3, … in listed order), under the pair's first seed, and the statistics stage tests one
        value per pair (values from overlapping pairs would not be independent)."""
        return False


PROBES: Registry[Probe] = Registry("probe", __name__, contract=Probe, params_base=ProbeParams)
# An entry of `probes:` in a hypothesis: a name or {name, ...params}.
ProbeSpec = flat(PROBES)


class ExampleParams(ProbeParams):
    """For probes that run the model on examples of the task."""

    split: Split = Field("val", description="which examples to run the model on: train, val or all")
    max_examples: int = Field(2000, ge=2, le=1_000_000, description="use at most this many (a fixed random subset)")


def address(probe: str, metric: str, site: str = "") -> str:
    """How a prediction names a probe's summary output."""
    return f"{probe}/{metric}@{site}" if site else f"{probe}/{metric}"


@lru_cache(maxsize=32)
def _task_data(task_json: str) -> "TaskData":
    task = json.loads(task_json)
    return built(task["name"], TASKS.get(task["name"]).params.model_validate(task["params"]))


def task_data(run: RunSpec) -> "TaskData":
    """The run's task data (cached: validation asks for it once per condition)."""
    return _task_data(json.dumps(run.task.model_dump(mode="json"), sort_keys=True))


def anatomy_of(run: RunSpec) -> Architecture:
    """The sites and token matrices the run's model declares: its architecture."""
    return architecture_of(run)


def steps_of(p: ProbeParams, run: RunSpec) -> list[int]:
    final = run.train.steps
    if p.steps == "final":
        return [final]
    if p.steps == "snapshots":
        return sorted(set(run.train.snapshots) | {final})
    return sorted(set(p.steps))


def check_steps(p: ProbeParams, run: RunSpec) -> list[str]:
    if p.steps == "snapshots" and not run.train.snapshots:
        return ["steps: 'snapshots' needs train.snapshots in this condition"]
    if isinstance(p.steps, list):
        have = set(run.train.snapshots) | {run.train.steps}
        missing = [s for s in p.steps if s not in have]
        if missing:
            return [f"steps: no weights are kept at {missing}; add them to train.snapshots "
                    f"(kept: {sorted(have)})"]
    return []


def disjoint_pairs(seeds: list[int]) -> list[tuple[int, int]]:
    """The seeds of a probe with `seed_pairs` in disjoint pairs, in listed order: (s0, s1), (s2, s3), …; an odd
    last seed is left out."""
    return [(seeds[i], seeds[i + 1]) for i in range(0, len(seeds) - 1, 2)]


def check_site(site: str, anatomy: Architecture, model: str, field: str = "site") -> list[str]:
    if site not in anatomy.sites:
        return [f"{field}: model {model!r} has no site {site!r}; sites: {', '.join(anatomy.sites)}"]
    return []


def chosen_sites(sites: list[str] | None, anatomy: Architecture) -> list[str]:
    """The sites a probe with an optional `sites:` list reads: those listed, else every site of the model."""
    return list(sites) if sites is not None else list(anatomy.sites)


def check_sites(sites: list[str] | None, anatomy: Architecture, model: str) -> list[str]:
    """Problems with an optional `sites:` list (each must be a site of the model)."""
    return [m for s in (sites or []) for m in check_site(s, anatomy, model, "sites")]


@dataclass
class ProbeContext:
    """One probe evaluation: a run's model with its weights at `step`, and the task's data."""

    run: Any
    data: "TaskData"
    model: Any  # a seed-batched model with named sites, weights loaded for `step`
    seeds: list[int]
    step: int
    run_dir: Path | None = None
    reference: "ProbeContext | None" = None  # another condition's model at the same step (cka)
    states: dict[int, dict] = field(default_factory=dict)  # step -> state, every kept step of the run
    out_dir: Path | None = None  # the probe's folder, for probes that keep artifacts beside their table

    @property
    def anatomy(self) -> Architecture:
        return anatomy_of(self.run)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def examples(self, split: Split, max_examples: int, seed: int = 0) -> tuple["torch.Tensor", "torch.Tensor"]:
        """A fixed subset of the task's examples (the same for every seed and step)."""
        import torch

        d = self.data
        if split == "train":
            x, y = d.x_train, d.y_train
        elif split == "val":
            x, y = d.x_val, d.y_val
        else:
            x, y = torch.cat([d.x_train, d.x_val]), torch.cat([d.y_train, d.y_val])
        if len(x) > max_examples:
            keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:max_examples].sort().values
            x, y = x[keep], y[keep]
        return x, y


class Table:
    """Collects a probe's rows: one value per seed, for a metric at a site (and a unit, for details)."""

    def __init__(self, seeds: list[int]):
        self.seeds = np.asarray(seeds, dtype=np.int64)
        self.parts: list[pd.DataFrame] = []

    def add(self, metric: str, values, site: str = "", unit: str | int = "") -> None:
        import pandas as pd

        v = values.detach().double().cpu().numpy() if hasattr(values, "detach") else np.asarray(values, float)
        v = np.broadcast_to(v, self.seeds.shape)
        self.parts.append(pd.DataFrame({"seed": self.seeds, "metric": metric, "site": site,
                                        "unit": str(unit), "value": v.astype(float)}))

    def frame(self, step: int) -> pd.DataFrame:
        import pandas as pd

        if not self.parts:
            return pd.DataFrame(columns=VALUE_COLUMNS)
        out = pd.concat(self.parts, ignore_index=True)
        out.insert(1, "step", np.int64(step))
        return out[VALUE_COLUMNS]
