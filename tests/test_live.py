"""Watching runs train: `refute run`'s live view and `refute watch`, read from real progress files."""

import io
import re
import time

import pytest

from conftest import TINY, plan_of
from refute import layout
from refute.layout import Layout
from refute.loop import live, watch
from refute.training.progress import ProgressWriter


@pytest.fixture
def training(tmp_path):
    """A hypothesis with two conditions: `default` half-way through training, `wide` not started."""
    plan = plan_of({**TINY, "conditions": {"default": {}, "wide": {"model.params.width": 64}}})
    results = tmp_path / "results"
    w = ProgressWriter(Layout(results).run_file(plan.runs["default"], layout.PROGRESS), every_s=0.0)
    w.start([0, 1, 2], steps=150)
    w.metric(0, "train_loss", [2.0, 2.2, float("nan")], [True, True, False])
    w.step(0, 2.1)
    w.step(75, 0.5)
    w.metric(75, "train_loss", [0.4, 0.6, 0.0], [True, True, False])
    w.close()
    return plan, results


def test_the_live_view_names_each_running_job_for_people(training):
    plan, results = training
    labels = live.run_labels([plan, plan_of({**TINY, "id": "other"})])
    assert labels[plan.runs["default"]] == "tiny:default, other:default"
    rows = live.rows(results, labels, since=time.time() - 60)
    assert [r.label for r in rows] == ["tiny:default, other:default"]
    assert re.fullmatch(r"refute: tiny:default, other:default  step 75/150  loss 0\.5  ETA \d+:\d\d", live.line(rows[0]))
    assert live.rows(results, labels, since=time.time() + 60) == []  # an old file is not a running job


def test_plain_lines_come_once_per_change(training):
    plan, results = training
    out = io.StringIO()
    view = live.LiveView(results, live.run_labels([plan]), "lines", every_s=3600, stream=out)
    with view:
        pass
    view.poll()  # nothing moved: nothing printed again
    assert out.getvalue().count("\n") == 1 and "tiny:default  step 75/150" in out.getvalue()


def test_a_job_whose_progress_file_is_gone_with_its_run_complete_is_done(training):
    plan, results = training
    out = io.StringIO()
    view = live.LiveView(results, live.run_labels([plan]), "lines", every_s=3600, stream=out)
    view.poll()
    run_dir = Layout(results).run_dir(plan.runs["default"])
    (run_dir / layout.PROGRESS).unlink()
    (run_dir / layout.RUN_RECORD).write_text("{}")
    view.poll()
    assert out.getvalue().splitlines()[-1].endswith("step 75/150  loss 0.5  done")


def test_bars_draw_the_job_and_print_snakemakes_lines_above(training):
    plan, results = training
    out = io.StringIO()
    with live.LiveView(results, live.run_labels([plan]), "bars", stream=out) as view:
        view.pipe("Finished jobid: 2 (Rule: train) [not markup]")
    text = out.getvalue()
    assert "Finished jobid: 2 (Rule: train) [not markup]" in text
    assert "tiny:default" in text and "step 75/150" in text


def test_auto_means_bars_only_in_an_interactive_terminal_outside_slurm(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert live.choose("auto", Tty()) == "bars"
    assert live.choose("auto", io.StringIO()) == "lines"
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert live.choose("auto", Tty()) == "lines"
    assert live.choose("off", Tty()) == "off"


def test_watch_tells_done_training_and_waiting_runs_and_draws_curves(training, tmp_path):
    from refute.training.job import train_run

    plan, results = training
    other = plan_of({**TINY, "train": {**TINY["train"], "steps": 20}})
    h = other.runs["default"]
    spec = Layout(results).run_file(h, layout.RUN_SPEC)
    spec.parent.mkdir(parents=True)
    spec.write_text(other.conditions["default"].model_dump_json())
    train_run(spec, Layout(results).run_dir(h))

    found = {s.condition: s for s in watch.states(plan, results)}
    assert (found["default"].state, found["default"].step, found["default"].loss) == ("training", 75, 0.5)
    assert found["wide"].state == "not started"
    assert sorted(found["default"].curves.seed[found["default"].curves.step == 75]) == [0, 1]  # seed 2 diverged
    text = watch.table(list(found.values()))
    assert re.search(r"^default\s+\S+\s+training\s+75/150\s+0\.5\s+\d+:\d\d\s+0\.5$", text, re.M), text
    done = watch.states(other, results)[0]
    assert done.state == "done" and done.step == 20 and set(done.curves.metric) >= {"train_loss", "val_acc"}
    png = watch.plot(plan, list(found.values()), tmp_path / "curves.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
