"""The plan of one hypothesis: everything later stages need from its file, validated once.

A `Plan` holds the validated hypothesis, the file it came from (and its sha256), the data as written,
every concrete condition's run spec and run hash, and the probe jobs. The workflow writes it, when a
run starts, to a file named by a hash of its content (`Plan.digest`); statistics, reports, the index,
refinement drafts, status and lineage read that file, never the YAML, so a hypothesis is validated
once and every stage sees the same spec.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import Field, model_serializer

from refute.components.probes import PROBES
from refute.registry import Params
from refute.spec.schema import Hypothesis, RunSpec

# Bump when a change to probe code changes its numbers, so stale probe tables are not reused.
PROBE_VERSION = 1
# The same for one probe, so the others keep their hashes (and their finished tables).
PROBE_REVISIONS = {"cka": 2}  # cka 2: `cka` between seeds is one value per disjoint seed pair


class ProbeJob(Params):
    """One probe on one condition's run, stored under a hash of what decides its numbers: the run, the
    probe's parameters (not its id or conditions, which only label and select) and any reference run,
    so the same probe of the same run is computed once however many hypotheses ask for it."""

    condition: str
    probe: str = Field(description="the probe's id in the hypothesis")
    run: str = Field(description="run hash")
    reference: str | None = Field(None, description="run hash of a reference condition (cka between conditions)")
    params: dict[str, Any] = Field(description="the probe's parameters, without id and conditions")

    @property
    def record(self) -> dict:
        record = {"version": PROBE_VERSION, "run": self.run, "reference": self.reference, "probe": self.params}
        # A user probe's source decides its numbers too (built-ins add nothing: their hashes stay).
        entry = PROBES.get(self.params["name"])
        if self.params["name"] in PROBE_REVISIONS:
            record["revision"] = PROBE_REVISIONS[self.params["name"]]
        if entry.digest is not None:
            record["code"] = entry.digest
        return record

    @property
    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.record, sort_keys=True).encode()).hexdigest()[:16]


class Plan(Params):
    """A validated hypothesis and what follows from it; see the module docstring."""

    hypothesis: Hypothesis
    file: str = Field(description="the hypothesis file, as given")
    file_sha256: str
    source: dict[str, Any] = Field(description="the file's data as written (drafts start from it)")
    conditions: dict[str, RunSpec] = Field(description="every concrete condition (named × swept) and its run spec")
    runs: dict[str, str] = Field(description="condition -> run hash")
    probe_jobs: list[ProbeJob] = Field(default_factory=list)
    later_rounds: list[dict[str, RunSpec]] = Field(
        default_factory=list, description="a sequential hypothesis's rounds after the first (refute.stats.sequential): "
        "each condition's run spec with that round's fresh seeds; planned and sealed up front, trained only "
        "while a prediction is undecided")
    code: dict[str, str] = Field(
        default_factory=dict, description="the source digest of every user component the plan uses ('<kind>:<name>'); "
        "editing one names a new plan, so its statistics and report are redone")

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        # A plan of built-ins only is written (and hashed) as before user components existed.
        data = handler(self)
        if not data.get("code"):
            data.pop("code", None)
        if not data.get("later_rounds"):  # likewise for a plan that is not sequential
            data.pop("later_rounds", None)
        return data

    def round_count(self) -> int:
        """Rounds planned: 1 unless the hypothesis is sequential."""
        return 1 + len(self.later_rounds)

    def round_conditions(self, k: int) -> dict[str, RunSpec]:
        """Round k's (1-based) condition → run spec; round 1 is `conditions`."""
        return self.conditions if k == 1 else self.later_rounds[k - 2]

    def round_runs(self, k: int) -> dict[str, str]:
        """Round k's condition → run hash."""
        from refute.spec.hashing import run_hash

        return self.runs if k == 1 else {c: run_hash(r) for c, r in self.later_rounds[k - 2].items()}

    def all_runs(self) -> list[tuple[str, str]]:
        """(condition label, run hash) of every run the plan may train: a later round's label is cond@round<k>."""
        out = list(self.runs.items())
        for k in range(2, self.round_count() + 1):
            out += [(f"{c}@round{k}", h) for c, h in self.round_runs(k).items()]
        return out

    @property
    def id(self) -> str:
        return self.hypothesis.id

    @property
    def path(self) -> Path:
        return Path(self.file)

    def digest(self) -> str:
        """The hash of this plan's content (canonical JSON, so a plan read back from its file hashes the same):
        the name of its file."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def write_plan(plan: Plan, path: str | Path) -> None:
    """Write a plan file. Keys keep the file's order (conditions are listed, and reported, in the order the
    hypothesis gives them); the name comes from `Plan.digest`, which does not depend on it."""
    from refute import io

    io.write_text(path, plan.model_dump_json(indent=1) + "\n")


def read_plan(path: str | Path) -> Plan:
    """A plan file written by the workflow (see refute.layout)."""
    from refute import io

    return Plan.model_validate(io.read_json(path))
