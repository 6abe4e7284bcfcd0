"""Matrix products round the same wherever a seed's matrices sit in its batched model (refute.scaling.blas):
the ground the bit-for-bit guarantees of chunks and packs stand on (tests/test_chunk_invariance.py,
tests/test_packing.py)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from refute.scaling import blas
from refute.spec.schema import RunSpec

needs_mkl = pytest.mark.skipif(blas.reproducible() is None, reason="this torch has no MKL")


@pytest.mark.parametrize("shape", [(61, 32, 11), (7, 8, 11), (1, 64, 33), (23, 16, 11)])
@pytest.mark.parametrize("op", ["bmm", "baddbmm"])
def test_a_lane_gets_the_same_product_at_every_position_of_every_batch(shape, op):
    # Sizes that fill no vector evenly: a lane's matrices start at every alignment modulo 16 bytes. Without
    # MKL's reproducible mode an AMD EPYC gave one of four results by the lane's position modulo 4.
    M, K, N = shape
    g = torch.Generator().manual_seed(0)
    a, b, c = torch.randn(M, K, generator=g), torch.randn(K, N, generator=g), torch.randn(1, N, generator=g)
    results = []
    for S in range(2, 9):
        for pos in range(S):
            A, B, C = torch.randn(S, M, K, generator=g), torch.randn(S, K, N, generator=g), torch.randn(S, 1, N, generator=g)
            A[pos], B[pos], C[pos] = a, b, c
            results.append((torch.bmm(A, B) if op == "bmm" else torch.baddbmm(C, A, B))[pos])
    assert all(torch.equal(r, results[0]) for r in results)


def _python(code: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != blas.ENV} | env
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120)


@needs_mkl
def test_importing_refute_before_any_product_turns_reproducible_products_on():
    done = _python("import refute, os, torch\n"
                   "x = torch.randn(64, 64); x @ x\n"
                   "from refute.scaling import blas\n"
                   "print(blas.reproducible(), os.environ['MKL_CBWR'])")
    assert done.stdout.split() == ["True", "AUTO"], done.stderr
    # The user's own CNR mode is kept.
    done = _python("import refute, os; print(os.environ['MKL_CBWR'])", MKL_CBWR="COMPATIBLE")
    assert done.stdout.strip() == "COMPATIBLE", done.stderr


@needs_mkl
def test_a_training_job_refuses_to_start_where_mkl_already_ran_without_it(tmp_path):
    # Its stored numbers would depend on what it was trained beside; only a new process can change the mode.
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 5, "train_fraction": 0.5}}, "model": {"name": "mlp"},
        "train": {"lr": 0.01, "steps": 2, "eval_every": 1}, "seeds": [0, 1], "observables": ["loss"],
    }).model_dump(mode="json")))
    done = _python("import os, torch\n"
                   "x = torch.randn(64, 64); x @ x\n"
                   "from refute.training.job import train_run\n"
                   f"train_run({str(spec)!r}, {str(tmp_path / 'out')!r})")
    assert done.returncode != 0
    assert "MKL_CBWR=AUTO" in done.stderr and "new process" in done.stderr
    assert not (tmp_path / "out" / "run.json").exists()
