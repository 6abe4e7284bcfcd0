"""A run's progress file: written while it trains, for people; it changes no number and enters no checksum."""

import json

import pandas as pd
import torch

from refute import layout
from refute.training import progress
from refute.training.loop import fit
from refute.training.progress import ProgressWriter

from test_train import run_spec


def test_writing_progress_changes_no_number(tmp_path):
    quiet = lambda m: None  # noqa: E731
    plain = fit(run_spec([0, 1], batch_size=8, steps=60), log=quiet)
    watched = fit(run_spec([0, 1], batch_size=8, steps=60), log=quiet,
                  progress=ProgressWriter(tmp_path / "p.jsonl", every_s=0.0))
    pd.testing.assert_frame_equal(plain.metrics, watched.metrics, check_exact=True)
    for k, v in plain.state.items():
        assert torch.equal(v, watched.state[k])


def test_the_curves_so_far_are_the_logged_metrics(tmp_path):
    w = ProgressWriter(tmp_path / "p.jsonl", every_s=0.0)
    r = fit(run_spec([3, 5], lr=50.0, optimizer={"name": "sgd"}, steps=30), log=lambda m: None, progress=w)
    w.close()
    p = progress.read(tmp_path / "p.jsonl")
    assert (p.step, p.steps, p.fraction, p.seeds) == (30, 30, 1.0, [3, 5])
    rows = [(s, step, metric, v) for metric, points in p.curves.items() for step, vals in points
            for s, v in zip([3, 5], vals) if v is not None]
    got = pd.DataFrame(rows, columns=["seed", "step", "metric", "value"])
    want = r.metrics[r.metrics.value.notna()]
    key = ["metric", "seed", "step"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                  want.sort_values(key).reset_index(drop=True)[got.columns], check_dtype=False)
    steps = [json.loads(line)["step"] for line in (tmp_path / "p.jsonl").read_text().splitlines()
             if "loss" in json.loads(line)]
    assert steps == sorted(steps) and steps[-1] == 30 and len(steps) > 2


def test_step_lines_come_at_most_once_a_second(tmp_path):
    now = [100.0]
    w = ProgressWriter(tmp_path / "p.jsonl", clock=lambda: now[0])
    w.start([0], steps=1000)
    assert w.due(0)
    w.step(0, 2.5)
    now[0] += 0.5
    assert not w.due(1)
    now[0] += 0.6
    assert w.due(2) and w.due(1000)
    w.step(2, 2.0)
    w.close()
    p = progress.read(tmp_path / "p.jsonl")
    assert (p.step, p.loss, p.started, p.time) == (2, 2.0, 100.0, 101.1)
    assert abs(p.eta_s - 1.1 * 998 / 2) < 1e-6  # at the pace so far


def test_a_half_written_line_is_skipped_and_parts_add_up(tmp_path):
    path = tmp_path / "p.jsonl"
    lines = [{"start": 0.0, "seeds": [0, 1], "steps": 10, "part": 0, "parts": 2},
             {"step": 10, "steps": 10, "part": 0, "parts": 2, "loss": 1.0, "time": 5.0},
             {"start": 5.0, "seeds": [2, 3], "steps": 10, "part": 1, "parts": 2},
             {"step": 5, "steps": 10, "part": 1, "parts": 2, "loss": 0.5, "time": 7.5}]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"step": 6, "ste')
    p = progress.read(path)
    assert p.fraction == 0.75 and p.seeds == [0, 1, 2, 3] and p.loss == 0.5 and p.eta_s == 2.5
    assert progress.read(tmp_path / "none.jsonl") is None


def test_a_train_job_keeps_progress_outside_its_checksums_and_removes_it_when_complete(tmp_path):
    from refute.training.job import train_run

    spec = tmp_path / "spec.json"
    spec.write_text(run_spec([0]).model_dump_json())
    record = train_run(spec, tmp_path / "run")
    assert set(record["sha256"]) == {layout.METRICS, layout.WEIGHTS, layout.SNAPSHOTS}
    assert not (tmp_path / "run" / layout.PROGRESS).exists()  # superseded by metrics.parquet once complete

