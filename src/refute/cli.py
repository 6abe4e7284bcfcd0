"""The `refute` command. (This branch carries only `refute plan`; the full CLI lives on branch `loop`.)"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="refute", description="hypothesis-testing workflows for deep learning")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="show the jobs, models, FLOPs and estimated wall time before running")
    p.add_argument("ids", nargs="*", metavar="id", help="hypothesis ids (default: every hypothesis)")
    p.add_argument("--hypotheses", default="hypotheses", help="folder of hypothesis files")
    p.add_argument("--results", default="results", help="results folder (finished runs are not counted)")
    p.add_argument("--cores", type=int, default=None, help="cores to plan for (default: this machine's)")
    p.add_argument("--seeds-per-job", type=int, default=None,
                   help="cap on seeds per training job, as `--config seeds_per_job=N` would give Snakemake")
    a = ap.parse_args(argv)

    if a.command == "plan":
        from refute.planning import plan_text
        from refute.workflow import load_plan

        plan = load_plan(a.hypotheses, a.results, seeds_per_job=a.seeds_per_job)
        try:
            print(plan_text(plan, a.ids or None, cores=a.cores))
        except KeyError as err:
            print(f"refute plan: {err.args[0]}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
