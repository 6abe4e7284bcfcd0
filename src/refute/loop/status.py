"""Where every hypothesis stands: not run, stale, running or done, with its last verdict.

Snakemake decides what is out of date (`snakemake --summary`: every output file and whether a job
would remake it, for any reason Snakemake reruns: a changed file, parameters, code or input), so
`refute status` agrees with what `refute run` would do. A hypothesis is

- running   when a Snakemake run active in this folder is making one of its files (its lock lists them);
- not run   when it has no verdict yet;
- stale     when it has one but a job would remake one of its files (its runs, statistics or report);
- done      otherwise.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from refute.loop.lineage import tree
from refute.report.index import collect
from refute.spec.loader import load_all

RUNNING, NOT_RUN, STALE, DONE = "running", "not run", "stale", "done"


@dataclass
class Row:
    id: str
    depth: int
    state: str
    verdict: str | None
    analysed_at: str | None
    refines: str | None
    why: str = ""


def summary(snakefile: Path, workdir: Path, config: list[str]) -> dict[str, str]:
    """Output file (relative to workdir) -> Snakemake's plan for it ('no update' / 'update pending')."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(workdir),
           "--summary", "--nolock", "--quiet", "all"]
    if config:
        cmd += ["--config", *config]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"snakemake --summary failed:\n{out.stderr.strip()[-2000:]}")
    plans = {}
    lines = out.stdout.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("output_file\t")), None)
    if header is None:
        return plans
    for line in lines[header + 1:]:
        cols = line.split("\t")
        if len(cols) >= 6:
            plans[cols[0]] = cols[5]
    return plans


def locked_outputs(workdir: Path) -> set[str]:
    """Files an active Snakemake run in `workdir` will write (from its output locks)."""
    out = set()
    for lock in (workdir / ".snakemake" / "locks").glob("*.output.lock"):
        try:
            out |= {line.strip() for line in lock.read_text().splitlines() if line.strip()}
        except OSError:
            continue  # the run ended while we looked
    return out


def files_of(hypotheses: str | Path, results: str) -> dict[str, list[str]]:
    """Every file Snakemake makes for a hypothesis, as the summary names them: its folder's files and the
    files of its training runs."""
    out = {}
    for h in load_all(hypotheses):
        runs = [f"{results}/runs/{r}/" for r in h.runs.values()]
        out[h.id] = [f"{results}/{h.id}/", *runs]
    return out


def status(hypotheses: str | Path = "hypotheses", results: str | Path = "results",
           snakefile: str | Path = "Snakefile", workdir: str | Path = ".", config: list[str] | None = None) -> list[Row]:
    workdir = Path(workdir)
    locked = {_relative(f, workdir) for f in locked_outputs(workdir)}  # first: a run may end while we look
    entries = {e["id"]: e for e in collect(workdir / hypotheses, workdir / results)}
    plans = summary(Path(snakefile).resolve(), workdir, config or [])
    pending = {f for f, plan in plans.items() if plan != "no update"}
    prefixes = files_of(workdir / hypotheses, str(results).rstrip("/"))
    rows = []
    for depth, hid in tree({k: e["refines"] for k, e in entries.items()}):
        e = entries[hid]
        mine = lambda files: [f for f in files if any(f.startswith(p) or f + "/" == p for p in prefixes[hid])]
        if mine(locked):
            state, why = RUNNING, "a Snakemake run is making its files"
        elif e["verdict"] is None:
            state, why = NOT_RUN, ""
        elif mine(pending):
            state, why = STALE, f"{len(mine(pending))} file(s) would be remade"
        else:
            state, why = DONE, ""
        rows.append(Row(hid, depth, state, e["verdict"], e["analysed_at"], e["refines"], why))
    return rows


def _relative(path: str, workdir: Path) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            return str(p.relative_to(workdir.resolve()))
        except ValueError:
            return path
    return path


def format_rows(rows: list[Row]) -> str:
    header = ("hypothesis", "state", "verdict", "analysed", "refines")
    table = [(("  " * r.depth) + ("└ " if r.depth else "") + r.id, r.state + (f" ({r.why})" if r.why else ""),
              r.verdict or "—", (r.analysed_at or "—").replace("T", " ")[:16], r.refines or "—") for r in rows]
    widths = [max(len(x[i]) for x in [header, *table]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *table])
