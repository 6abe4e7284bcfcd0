"""Seed chunks: a run split across jobs and merged back is the run one job would have written."""

import json
import math

import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from refute.training import chunks
from refute.training import snapshots
from refute.training.job import train_run
from test_train import run_spec


@given(n=st.integers(1, 300), per_job=st.integers(1, 400))
def test_a_split_covers_every_seed_once_in_order_within_the_cap(n, per_job):
    parts = chunks.split(n, per_job)
    assert [i for lo, hi in parts for i in range(lo, hi)] == list(range(n))
    sizes = [hi - lo for lo, hi in parts]
    assert max(sizes) <= per_job and max(sizes) - min(sizes) <= 1
    assert len(parts) == math.ceil(n / per_job)


def test_no_cap_keeps_a_run_whole():
    assert chunks.split(5, None) == [(0, 5)]
    assert chunks.split(5, 5) == [(0, 5)]


def test_a_chunk_folder_name_round_trips():
    assert chunks.parse_chunk_name(chunks.chunk_name(3, 7)) == (3, 7)
    with pytest.raises(ValueError, match="seeds-LO-HI"):
        chunks.parse_chunk_name("chunk-1")


@pytest.fixture
def spec(tmp_path):
    # Seeds out of numeric order, to check the merge keeps the run's own order.
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(run_spec([7, 2, 5, 11], batch_size=8, snapshots=[0, 20]).model_dump(mode="json")))
    return path


def test_chunked_training_merged_equals_one_job(tmp_path, spec):
    whole = tmp_path / "whole"
    train_run(spec, whole)
    parts = [tmp_path / "run" / chunks.chunk_name(lo, hi) for lo, hi in chunks.split(4, 2)]
    for part, (lo, hi) in zip(parts, chunks.split(4, 2)):
        train_run(spec, part, seeds=slice(lo, hi))
    merged = chunks.merge(parts, tmp_path / "run")

    a = pd.read_parquet(whole / "metrics.parquet")
    b = pd.read_parquet(tmp_path / "run" / "metrics.parquet")
    # Same rows in the same order, the same values bit for bit.
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    wa = torch.load(whole / "weights.pt", weights_only=True)
    wb = torch.load(tmp_path / "run" / "weights.pt", weights_only=True)
    assert wa["seeds"] == wb["seeds"] == [7, 2, 5, 11]
    for k, v in wa["state"].items():
        assert torch.equal(wb["state"][k], v)
    sa, sb = snapshots.load(whole), snapshots.load(tmp_path / "run")
    assert sorted(sa) == sorted(sb) == [0, 20]
    for step in sa:
        for k, v in sa[step].items():
            assert torch.equal(sb[step][k], v)
    assert merged["seeds"] == [7, 2, 5, 11]
    assert [c["slice"] for c in merged["chunks"]] == [[0, 2], [2, 4]]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["steps"] == 40


def test_an_empty_seed_slice_is_an_error(tmp_path, spec):
    with pytest.raises(ValueError, match="empty"):
        train_run(spec, tmp_path / "out", seeds=slice(4, 6))


def test_merge_refuses_a_seed_in_two_chunks(tmp_path, spec):
    a, b = tmp_path / "seeds-0-2", tmp_path / "seeds-1-3"
    train_run(spec, a, seeds=slice(0, 2))
    train_run(spec, b, seeds=slice(1, 3))
    with pytest.raises(ValueError, match="more than one chunk"):
        chunks.merge([a, b], tmp_path / "run")
    assert not (tmp_path / "run" / "run.json").exists()
