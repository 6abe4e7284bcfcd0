"""Entry points of the Snakemake rules: `python -m refute.jobs <stage> ...`, one function each."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m refute.jobs")
    sub = ap.add_subparsers(dest="stage", required=True)
    t = sub.add_parser("train", help="train every seed of one run spec")
    t.add_argument("spec")
    t.add_argument("--out", required=True)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="the hypothesis's device request (does not change the run's numbers)")
    t.add_argument("--seeds", metavar="LO:HI", help="train only positions LO..HI-1 of the run's seed list")
    m = sub.add_parser("merge", help="merge a run's seed chunks into the run's outputs")
    m.add_argument("chunks", nargs="+", help="chunk folders, in seed order")
    m.add_argument("--out", required=True)
    pr = sub.add_parser("probe", help="run one probe on one run's weights")
    pr.add_argument("spec")
    pr.add_argument("--out", required=True)
    pr.add_argument("--results", default="results")
    pr.add_argument("--threads", type=int, default=1)
    s = sub.add_parser("stats", help="test a hypothesis's predictions and decide its verdict")
    s.add_argument("hypothesis")
    s.add_argument("--results", default="results")
    r = sub.add_parser("report", help="write a hypothesis's report and figures")
    r.add_argument("id")
    r.add_argument("--results", default="results")
    a = ap.parse_args(argv)

    if a.stage == "train":
        from refute.run_job import train_run

        seeds = None
        if a.seeds:
            lo, hi = (int(v) for v in a.seeds.split(":"))
            seeds = slice(lo, hi)
        train_run(a.spec, a.out, a.threads, a.device, seeds)
    elif a.stage == "merge":
        from refute.chunks import merge

        print(merge(a.chunks, a.out)["seeds"])
    elif a.stage == "probe":
        from refute.probe_job import probe_run

        print(probe_run(a.spec, a.out, a.results, a.threads))
    elif a.stage == "stats":
        from refute.stats.analyse import analyse

        print(analyse(a.hypothesis, a.results)["verdict"])
    else:
        from refute.report.markdown import write_report

        print(write_report(a.id, a.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
