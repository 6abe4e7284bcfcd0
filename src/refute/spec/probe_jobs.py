"""The probe jobs a hypothesis needs: one per (condition, probe), stored under a hash of what decides its numbers.

The hash covers the run (its run hash), the probe's parameters (not its id or conditions, which
only label and select) and any reference run, so the same probe of the same run is computed once
however many hypotheses ask for it, and is recomputed when any of these change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from refute.spec.loader import Hypothesis, run_hash
from refute.spec.probes import applies_to, reference_of

# Bump when a change to probe code changes its numbers, so stale probe tables are not reused.
PROBE_VERSION = 1


@dataclass(frozen=True)
class ProbeJob:
    condition: str
    probe: str  # the probe's id in the hypothesis
    run: str  # run hash
    reference: str | None  # run hash of a reference condition (cka between conditions)
    params: str  # the probe's parameters, canonical JSON

    @property
    def record(self) -> dict:
        return {"version": PROBE_VERSION, "run": self.run, "reference": self.reference,
                "probe": json.loads(self.params)}

    @property
    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.record, sort_keys=True).encode()).hexdigest()[:16]


def probe_jobs(hyp: Hypothesis) -> list[ProbeJob]:
    jobs = []
    for probe in hyp.spec.probes:
        params = json.dumps(probe.model_dump(mode="json", exclude={"id", "conditions"}), sort_keys=True)
        ref = reference_of(probe)
        for cond in applies_to(probe, hyp.conditions):
            ref_hash = run_hash(hyp.conditions[ref[0]]) if ref else None
            jobs.append(ProbeJob(cond, probe.label, run_hash(hyp.conditions[cond]), ref_hash, params))
    return jobs
