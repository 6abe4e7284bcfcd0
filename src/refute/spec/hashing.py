"""The hash a run is stored under: everything that determines its numbers, and the trainer's version.

Kept apart from the loader so a training job can name its run without importing what validating a
hypothesis needs (statistics, probes: ~0.7 s per job).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hashlib
import json

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec

# Bump when a change to training changes its numbers, so stale shared runs are not reused.
TRAINER_VERSION = 2  # 2: seeds of big runs trained in chunks, batches drawn in blocks


def run_hash(run: RunSpec) -> str:
    """Runs are stored under a hash of everything that determines their numbers, so identical
    training requested by several conditions or hypotheses is done once."""
    dump = run.model_dump(mode="json")
    if not dump["train"].get("snapshots"):
        # No snapshots is the default; leaving it out keeps the hashes of runs that never asked for them.
        dump["train"].pop("snapshots", None)
    blob = json.dumps({"trainer": TRAINER_VERSION, "run": dump}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
