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

# Bump when a change to training changes its numbers, so stale shared runs are not reused.
TRAINER_VERSION = 2  # 2: seeds of big runs trained in chunks, batches drawn in blocks
# A change that moved the numbers of some runs only names those runs anew (the others keep their hashes and
# finished results). 3: a seed's numbers no longer depend on which seeds share its batch
# (tests/test_chunk_invariance.py), which changed them by rounding where fused Adam had a partial last unit of
# 16 floats, in clipped runs (the norms' sum), in the cnn (its convolution) and in one-seed runs (their kernels).
TRAINER_REVISION = 3
ADAM_UNIT = 16  # refute.components.optimizers.UNIT (not imported: it imports the registries' parameters)


def trainer_revision(run: RunSpec) -> int | None:
    """TRAINER_REVISION for a run whose numbers it moved, else None."""
    from math import prod

    from refute.components.models import architecture_of

    seeds = len(run.seeds)
    adam_tail = run.train.optimizer.name in ("adam", "adamw") and any(
        seeds * prod(shape) % ADAM_UNIT for shape in architecture_of(run).parameters.values())
    moved = adam_tail or run.train.grad_clip is not None or run.model.name == "cnn" or seeds == 1
    return TRAINER_REVISION if moved else None


def run_hash(run: RunSpec) -> str:
    """Runs are stored under a hash of everything that determines their numbers, so identical
    training requested by several conditions or hypotheses is done once."""
    dump = run.model_dump(mode="json")
    if not dump["train"].get("snapshots"):
        # No snapshots is the default; leaving it out keeps the hashes of runs that never asked for them.
        dump["train"].pop("snapshots", None)
    record = {"trainer": TRAINER_VERSION, "run": dump}
    if (revision := trainer_revision(run)) is not None:
        record["revision"] = revision
    # A user component's source decides the numbers as much as its parameters: editing it names new runs.
    # Built-ins add nothing here (their changes bump TRAINER_VERSION), which keeps their runs' hashes.
    code = user_code(run)
    if code:
        record["code"] = code
    blob = json.dumps(record, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
