"""Where every hypothesis stands: not run, stale, running or done, with its last verdict.

Snakemake decides what is out of date (`snakemake --summary`: every output file and whether a job
would remake it, for any reason Snakemake reruns: a changed file, parameters, code or input), so
`refute status` agrees with what `refute run` would do. A hypothesis is

- running   when a Snakemake run active in this folder is making one of its files (its lock lists them);
- not run   when it has no verdict yet;
- stale     when it has one but a job would remake one of its files (its runs, statistics or report);
- done      otherwise.

The hypotheses are the ones the summary lists; each is read from its plan file and its verified records,
never from its YAML (Snakemake's own run of the Snakefile validates the files). Explorations are listed
after them, in the same states (not run: not observed yet), with the events they found and the drafts
(hypotheses naming them in `exploration:`) the agenda holds.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from refute import io
from refute.layout import EVENTS, REPORT_HTML, VERDICT, Layout
from refute.loop.lineage import tree
from refute.spec.plan import Plan, read_plan
from refute.stats import records

RUNNING, STALE_LOCK, NOT_RUN, STALE, DONE = "running", "stale lock", "not run", "stale", "done"


@dataclass
class Row:
    id: str
    depth: int
    state: str
    verdict: str | None
    analysed_at: str | None
    refines: str | None
    why: str = ""
    post_hoc: bool = False  # its verdict was decided on a plan edited after results existed (not scored)
    seen_data: bool = False  # some of its predictions read runs trained before its plan was sealed (not scored)
    report: str | None = None  # report.html, when it exists
    kind: str = "hypothesis"  # or "exploration"
    events: int | None = None  # an exploration's events found (None: not observed)
    drafts: int | None = None  # an exploration's drafts in the agenda


def state_of(locked: list[str], stale_lock: bool, done: bool, pending: list[str]) -> tuple[str, str]:
    """The state of a hypothesis or exploration, and why, from its locked and pending files."""
    if locked and stale_lock:
        return STALE_LOCK, "a killed Snakemake run left its lock on these files; clear it with `snakemake --unlock`, " \
                           "then run again"
    if locked:
        return RUNNING, "a Snakemake run is making its files"
    if not done:
        return NOT_RUN, ""
    if pending:
        return STALE, f"{len(pending)} file(s) would be remade"
    return DONE, ""

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


def snakemake_running_in(workdir: Path) -> bool:
    """Whether a live Snakemake process works in `workdir` (Linux /proc: its working directory or
    --directory); True where that cannot be told, so a live run is never called stale."""
    proc = Path("/proc")
    if not (proc / "self").exists():
        return True
    here = workdir.resolve()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = [c.decode(errors="replace") for c in (entry / "cmdline").read_bytes().split(b"\0")]
            if not any("snakemake" in c for c in cmd):
                continue
            dirs = [Path(os.readlink(entry / "cwd"))]
            dirs += [Path(dirs[0], cmd[i + 1]) for i, c in enumerate(cmd[:-1]) if c in ("-d", "--directory")]
            if any(d.resolve() == here for d in dirs):
                return True
        except OSError:
            continue
    return False


def hypotheses_in(plans: dict[str, str], results: str) -> list[str]:
    """The hypotheses the workflow would make, from the summary's files: <results>/<id>/verdict.json."""
    return sorted({Path(f).parent.name for f in plans if Path(f).name == VERDICT and Path(f).parent.parent == Path(results)})


def explorations_in(plans: dict[str, str], results: str) -> list[str]:
    """The explorations the workflow would observe: <results>/explorations/<id>/events.json."""
    root = Layout(results).exploration_dir("x").parent
    return sorted({Path(f).parent.name for f in plans if Path(f).name == EVENTS and Path(f).parent.parent == root})


def plan_of(hyp_id: str, plans: dict[str, str], results: str) -> Plan | None:
    """The hypothesis's current plan: the plan file the workflow names for it (when the summary lists plan
    files), else the one its verdict was decided on; None when neither exists yet."""
    for f in plans:
        path = Path(f)
        if path.parent == Layout(results).plan_file("x").parent and path.exists():
            plan = read_plan(path)
            if plan.id == hyp_id:
                return plan
    if records.analysed(results, hyp_id):
        decision = records.read(results, hyp_id)
        if Layout(results).plan_file(decision.verdict.plan).exists():
            return decision.plan(results)
    return None


def status(results: str | Path = "results", snakefile: str | Path = "Snakefile", workdir: str | Path = ".",
           config: list[str] | None = None) -> list[Row]:
    """Every hypothesis the workflow knows (Snakemake's summary), from its plan file and records."""
    workdir = Path(workdir)
    locked = {_relative(f, workdir) for f in locked_outputs(workdir)}  # first: a run may end while we look
    stale_lock = bool(locked) and not snakemake_running_in(workdir)
    plans = summary(Path(snakefile).resolve(), workdir, config or [])
    pending = {f for f, plan in plans.items() if plan != "no update"}
    results = str(results).rstrip("/")
    local = lambda f: str(workdir / f) if not Path(f).is_absolute() else f
    found = {}
    for hid in hypotheses_in(plans, results):
        plan = plan_of(hid, {local(f): v for f, v in plans.items()}, str(workdir / results))
        decision = records.read(workdir / results, hid) if records.analysed(workdir / results, hid) else None
        runs = [f"{Layout(results).run_dir(r)}/" for r in plan.runs.values()] if plan else []
        found[hid] = (plan, decision, [f"{results}/{hid}/", *runs])
    refines = {hid: (p.hypothesis.refines if p else d.verdict.refines if d else None)
               for hid, (p, d, _) in found.items()}
    rows = []
    for depth, hid in tree(refines):
        _, decision, prefixes = found[hid]
        mine = lambda files: [f for f in files if any(f.startswith(p) or f + "/" == p for p in prefixes)]
        verdict = decision.verdict if decision else None
        state, why = state_of(mine(locked), stale_lock, verdict is not None, mine(pending))
        report = workdir / results / hid / REPORT_HTML
        rows.append(Row(hid, depth, state, verdict.verdict if verdict else None,
                        verdict.provenance.analysed_at if verdict else None, refines[hid], why,
                        bool(verdict and verdict.post_hoc),
                        bool(decision and any(p.seen for p in decision.predictions)),
                        f"{results}/{hid}/{REPORT_HTML}" if report.exists() else None))
    for xid in explorations_in(plans, results):
        prefixes = [f"{Layout(results).exploration_dir(xid)}/"]
        record, runs = None, []
        events = workdir / Layout(results).exploration_file(xid, EVENTS)
        if events.exists():
            record = io.read_json(events)
            plan_file = workdir / Layout(results).plan_file(record["plan"])
            if plan_file.exists():
                runs = [f"{Layout(results).run_dir(r)}/" for r in io.read_json(plan_file)["runs"].values()]
        mine = lambda files: [f for f in files if any(f.startswith(p) or f + "/" == p for p in [*prefixes, *runs])]
        state, why = state_of(mine(locked), stale_lock, record is not None, mine(pending))
        drafts = sum(1 for hid, (p, d, _) in found.items()
                     if (p.hypothesis.exploration if p else d.verdict.spec.exploration if d
                         else _drafted_from(workdir, config or [], hid)) == xid)
        report = workdir / Layout(results).exploration_file(xid, REPORT_HTML)
        rows.append(Row(xid, 0, state, None, None, None, why,
                        report=str(Layout(results).exploration_file(xid, REPORT_HTML)) if report.exists() else None,
                        kind="exploration", events=len(record["found"]) if record else None, drafts=drafts))
    return rows


def _drafted_from(workdir: Path, config: list[str], hyp_id: str) -> str | None:
    """The `exploration:` of a hypothesis that has neither plan file nor verdict yet (a draft not run), from
    its file (the workflow's hypotheses folder: `--config hypotheses=...`, else hypotheses/)."""
    import yaml

    folder = next((c.split("=", 1)[1] for c in config if c.startswith("hypotheses=")), "hypotheses")
    try:
        data = yaml.safe_load((workdir / folder / f"{hyp_id}.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data.get("exploration") if isinstance(data, dict) else None


def _relative(path: str, workdir: Path) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            return str(p.relative_to(workdir.resolve()))
        except ValueError:
            return path
    return path


def rows_json(rows: list[Row]) -> str:
    """`refute status --json`: one object per hypothesis, in tree order (depth: its place in the lineage)."""
    import json

    return json.dumps([dataclasses.asdict(r) for r in rows], indent=2)


def format_rows(rows: list[Row]) -> str:
    hyps = [r for r in rows if r.kind == "hypothesis"]
    header = ("hypothesis", "state", "verdict", "analysed", "refines")
    table = [(("  " * r.depth) + ("└ " if r.depth else "") + r.id, r.state + (f" ({r.why})" if r.why else ""),
              (r.verdict or "—") + "".join(f" ({f})" for f, on in (("post hoc", r.post_hoc), ("seen data", r.seen_data))
                                           if on), (r.analysed_at or "—").replace("T", " ")[:16], r.refines or "—") for r in hyps]
    out = _table(header, table)
    explorations = [r for r in rows if r.kind == "exploration"]
    if explorations:
        xtable = [(r.id, r.state + (f" ({r.why})" if r.why else ""), "—" if r.events is None else str(r.events),
                   str(r.drafts or 0)) for r in explorations]
        out += "\n\n" + _table(("exploration", "state", "events found", "drafts"), xtable)
    return out


def _table(header: tuple[str, ...], table: list[tuple[str, ...]]) -> str:
    widths = [max(len(x[i]) for x in [header, *table]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *table])
