"""The hash a run is stored under: everything that determines its numbers, the trainer's version, and the
source of any user component it uses.

Kept apart from the loader so a training job can name its run without importing what validating a
hypothesis needs (statistics, probes: ~0.7 s per job).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hashlib
import json

from refute.registry import user_code

if TYPE_CHECKING:
    from refute.spec.schema import RunSpec

# Bump when a change to training changes its numbers, so stale shared runs are not reused. 2: seeds of big runs
# trained in chunks, batches drawn in blocks. 3: a seed's numbers no longer depend on which seeds and runs share
# its batch: per-seed kernels (tests/test_chunk_invariance.py) and MKL's products made alignment-independent
# (refute.scaling.blas), which changes the kernels every run's products take.
TRAINER_VERSION = 3


def run_hash(run: RunSpec) -> str:
    """Runs are stored under a hash of everything that determines their numbers, so identical
    training requested by several conditions or hypotheses is done once."""
    dump = run.model_dump(mode="json")
    if not dump["train"].get("snapshots"):
        # No snapshots is the default; leaving it out keeps the hashes of runs that never asked for them.
        dump["train"].pop("snapshots", None)
    record = {"trainer": TRAINER_VERSION, "run": dump}
    # A user component's source decides the numbers as much as its parameters: editing it names new runs.
    # Built-ins add nothing here (their changes bump TRAINER_VERSION), which keeps their runs' hashes.
    code = user_code(run)
    if code:
        record["code"] = code
    blob = json.dumps(record, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
