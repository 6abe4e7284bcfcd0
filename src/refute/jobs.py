"""Entry points of the Snakemake rules: `python -m refute.jobs <stage> ...`, one function each."""

from __future__ import annotations

import argparse
import os
import sys


def _name_run(out: str) -> None:
    """The log's first line: the hypotheses and conditions sharing the run (the run hash is only a key)."""
    from pathlib import Path

    from refute.layout import RUN_NAMES

    from refute.layout import PACK_SPEC

    if (Path(out) / PACK_SPEC).exists():  # a pack's folder: each of its runs
        import json

        for run in json.loads((Path(out) / PACK_SPEC).read_text())["runs"]:
            _name_run(run)
        return
    for folder in (Path(out), Path(out).parent):  # a run's folder, or a chunk of one inside it
        if (folder / RUN_NAMES).exists():
            print(f"run {folder.name}: {(folder / RUN_NAMES).read_text().strip()}", flush=True)
            return


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m refute.jobs")
    sub = ap.add_subparsers(dest="stage", required=True)
    t = sub.add_parser("train", help="train every seed of one run spec (or of every run of a pack file)")
    t.add_argument("spec")
    t.add_argument("--out", required=True)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--checkpoint-every", type=float, metavar="SECONDS",
                   default=float(os.environ.get("REFUTE_CHECKPOINT_EVERY", 300)),
                   help="save a resumable checkpoint this often (default: $REFUTE_CHECKPOINT_EVERY or 300)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="the hypothesis's device request (does not change the run's numbers)")
    t.add_argument("--seeds", metavar="LO:HI", help="train only positions LO..HI-1 of the run's seed list")
    t.add_argument("--refuse", default="", metavar="WHY",
                   help="fail at once with this message, training nothing (the workflow's memory limit)")
    m = sub.add_parser("merge", help="merge a run's seed chunks into the run's outputs")
    m.add_argument("chunks", nargs="+", help="chunk folders, in seed order")
    m.add_argument("--out", required=True)
    pr = sub.add_parser("probe", help="run one probe on one run's weights")
    pr.add_argument("spec")
    pr.add_argument("--out", required=True)
    pr.add_argument("--results", default="results")
    pr.add_argument("--threads", type=int, default=1)
    s = sub.add_parser("stats", help="test a hypothesis's predictions and decide its verdict")
    s.add_argument("plan", help="the hypothesis's plan file (results/plans/<digest>.json)")
    s.add_argument("--results", default="results")
    rd = sub.add_parser("round", help="look at a sequential hypothesis after one round: is another round needed?")
    rd.add_argument("plan")
    rd.add_argument("round", type=int)
    rd.add_argument("--results", default="results")
    r = sub.add_parser("report", help="write a hypothesis's report.md, report.html and figures")
    r.add_argument("id", help="the hypothesis (its verdict record names its plan)")
    r.add_argument("--results", default="results")
    o = sub.add_parser("observe", help="run an exploration's event detectors on its runs")
    o.add_argument("plan", help="the exploration's plan file (results/plans/<digest>.json)")
    o.add_argument("--results", default="results")
    orp = sub.add_parser("observation-report", help="write an exploration's report.md, report.html and figures")
    orp.add_argument("id", help="the exploration")
    orp.add_argument("--results", default="results")
    i = sub.add_parser("index", help="write the agenda index (index.md, index.html) with the prediction scoreboard")
    i.add_argument("--plans", nargs="+", required=True, help="every hypothesis's plan file")
    i.add_argument("--results", default="results")
    i.add_argument("--explorations", nargs="*", default=[], help="every exploration's plan file")
    a = ap.parse_args(argv)
    from refute.scaling import tuning

    tuning.configure_openmp()  # before anything imports torch (user components may)
    # The project's own components, from the folder the workflow names in every job's command
    # ($REFUTE_COMPONENTS, absolute), and installed ones: before any spec, plan or record is read.
    from refute.components.user import ENV, UserComponentError, load_components

    try:
        load_components(os.environ.get(ENV) or None)
    except UserComponentError as err:
        print(f"refute: user components cannot be loaded:\n{err}", file=sys.stderr)
        return 1
    if a.stage in ("train", "probe"):
        from refute.workflow.parent import exit_with_workflow

        exit_with_workflow(lambda msg: print(msg, flush=True))

    if a.stage == "train" and a.refuse:
        # Before torch is even imported: a job the machine cannot hold fails alone, and at once.
        _name_run(a.out)
        print(f"not started: {a.refuse}", file=sys.stderr, flush=True)
        return 1
    if a.stage == "train":
        tuning.configure_allocator()  # before torch allocates anything
        from refute.training.job import train_run

        _name_run(a.out)
        seeds = None
        if a.seeds:
            lo, hi = (int(v) for v in a.seeds.split(":"))
            seeds = slice(lo, hi)
        train_run(a.spec, a.out, a.threads, a.checkpoint_every, device=a.device, seeds=seeds)
    elif a.stage == "merge":
        from refute.training.chunks import merge

        print(merge(a.chunks, a.out)["seeds"])
    elif a.stage == "probe":
        from refute.probing.job import probe_run

        print(probe_run(a.spec, a.out, a.results, a.threads))
    elif a.stage == "stats":
        from refute.stats.analyse import analyse

        print(analyse(a.plan, a.results).verdict)
    elif a.stage == "round":
        from refute.stats.sequential import look_after_round

        print(look_after_round(a.plan, a.results, a.round))
    elif a.stage == "report":
        from refute.report.html import write_html_report
        from refute.report.markdown import write_report

        print(write_report(a.id, a.results))
        print(write_html_report(a.id, a.results))
    elif a.stage == "observe":
        from refute.stats.observe import observe

        record = observe(a.plan, a.results)
        print(f"{len(record['found'])} event(s) found of {record['candidates']} candidates")
    elif a.stage == "observation-report":
        from refute.report.observation import write_observation_report

        for path in write_observation_report(a.id, a.results):
            print(path)
    else:
        from refute.report.index import write_index

        for path in write_index(a.plans, a.results, a.explorations):
            print(path)
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:  # Ctrl-C, sent on by `refute run` or the terminal: one line, not a traceback
        print("interrupted (SIGINT); a rerun starts again (training resumes from its last checkpoint)", flush=True)
        code = 130
    # Every output is written and closed by now. Skip the interpreter's teardown: with torch and
    # pandas loaded it takes ~0.4 s per job (measured), more than a small job's statistics.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
