"""Matrix products whose rounding does not depend on where a lane sits in memory.

A seed-batched model keeps each seed's matrices one after another, so the same seed's matrix starts at a
different address in a batch of 3 than in a batch of 8. On AMD EPYC CPUs (measured 2026-12-02, with AVX-512
and without; an earlier Xeon did not show it), MKL's single-precision products round differently by the
matrix's alignment: seed-batched `bmm` gave a lane one of four results by its position modulo 4, so a seed's
numbers moved by an ulp with its batch-mates and packed runs did not match the same runs trained alone.
MKL's conditional numerical reproducibility (CNR, MKL_CBWR=AUTO: the kernels this CPU would pick, made
alignment-independent) removes that; measured at the same speed within this host's noise. It changes which
kernels run, so it changed numbers: refute.spec.hashing.TRAINER_VERSION 3.

MKL fixes the mode at its first product, so the variable is set when refute is imported, and a job checks
the mode before training (`reproducible`): where MKL already ran without it, only a new process helps.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

ENV = "MKL_CBWR"
WANTED = "AUTO"
# mkl_service.h: the query for the current branch, and the branch numbers it answers with.
_BRANCH, _OFF, _AUTO = 1, 1, 2


def request() -> str:
    """Ask MKL for reproducible products unless the user chose a CNR mode (any MKL_CBWR value is one); returns
    the setting. Call before torch's first matrix product: importing torch alone does not start MKL."""
    return os.environ.setdefault(ENV, WANTED)


@functools.cache
def _mkl():
    """MKL's service functions, linked into this torch (x86 builds); None where torch has no MKL."""
    import torch

    try:
        lib = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        get, set_ = lib.mkl_serv_cbwr_get, lib.mkl_serv_cbwr_set
    except (OSError, AttributeError):
        return None
    get.restype = set_.restype = ctypes.c_int
    get.argtypes = set_.argtypes = [ctypes.c_int]
    return get, set_


def reproducible() -> bool | None:
    """Whether this process's matrix products are alignment-independent: True when MKL runs in a CNR mode
    (switched on here if MKL has not run yet), False when MKL already ran without one, None without MKL."""
    mkl = _mkl()
    if mkl is None:
        return None
    get, set_ = mkl
    if get(_BRANCH) != _OFF:
        return True
    return set_(_AUTO) == 0 and get(_BRANCH) != _OFF


NOT_REPRODUCIBLE = (
    f"MKL already ran without conditional numerical reproducibility ({ENV}), so a seed's numbers could depend "
    f"on which seeds and runs share its batched model. Import refute before running anything with torch, or set "
    f"{ENV}={WANTED} in the environment, and start a new process.")
