"""What a run of the workflow would do, before anything runs: per hypothesis and exploration, and condition,
its run, seeds, jobs, size, memory, time limit and estimated time; then the totals for what is not done yet
(an exploration's jobs after training: observe and observation_report).

FLOPs and memory come from refute.scaling.costs; time on this machine from refute.workflow.calibration's
calibration (measured by `refute plan`; a dry run uses a cached one, or gives no time).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path

from refute.layout import EVENTS, PROBE_RECORD, RUN_RECORD, VERDICT, REPORT_MD
from refute.scaling import costs, cpus
from refute.workflow.calibration import Calibration, cached_calibration, calibration
from refute.workflow.agenda import Agenda, threads_for


@dataclass(frozen=True)
class Job:
    kind: str  # train | train_pack | train_chunk | merge_seeds | probe | stats | report | observe | observation_report
    target: str  # run hash (and chunk) or hypothesis id
    seconds: float
    cost: costs.JobCost | None = None


def _done(path: Path) -> bool:
    return path.exists()


def _study(plan: Agenda, i: str):
    """The hypothesis or exploration with id `i` (ids are unique across both)."""
    return plan.hypotheses[i] if i in plan.hypotheses else plan.explorations[i]


def pending_jobs(plan: Agenda, ids: list[str], cal: Calibration) -> list[Job]:
    """The jobs a run of `ids` (hypotheses and explorations) needs, judged by which outputs exist
    (`snakemake -n` also sees edits)."""
    jobs: list[Job] = []
    runs = sorted({h for i in ids for h in _study(plan, i).runs.values()})
    pending_runs = set()
    for h in runs:
        if _done(plan.layout.run_file(h, RUN_RECORD)):
            continue
        pending_runs.add(h)
        if h in plan.pack_of:  # one job for the whole pack (its runs may belong to other hypotheses too)
            pack = plan.pack_of[h]
            if not any(j.kind == "train_pack" and j.target == pack for j in jobs):
                c = plan.pack_cost(pack)
                jobs.append(Job("train_pack", pack, cal.job_seconds(c), c))
        elif plan.is_chunked(h):
            for lo, hi in plan.chunks[h]:
                if not _done(plan.layout.chunk_dir(h, lo, hi) / RUN_RECORD):
                    c = plan.job_cost(h, lo, hi)
                    jobs.append(Job("train_chunk", f"{h}/seeds-{lo}-{hi}", cal.job_seconds(c), c))
            jobs.append(Job("merge_seeds", h, cal.startup_s + 1.0))
        else:
            c = plan.job_cost(h)
            jobs.append(Job("train", h, cal.job_seconds(c), c))
    pending_probes = set()
    for i in ids:
        for job in plan.probe_jobs[i]:
            if job.hash in pending_probes:
                continue
            needs = [job.run] + ([job.reference] if job.reference else [])
            if any(r in pending_runs for r in needs) or not _done(plan.layout.probe_dir(job.hash) / PROBE_RECORD):
                pending_probes.add(job.hash)
                # Timed as start-up only: what a probe costs depends on the probe (not estimated).
                jobs.append(Job("probe", job.hash, cal.startup_s))
    for i in ids:
        stale = any(h in pending_runs for h in _study(plan, i).runs.values()) or \
            any(j.hash in pending_probes for j in plan.probe_jobs[i])
        if i in plan.explorations:
            if stale or not _done(plan.layout.exploration_file(i, EVENTS)):
                jobs.append(Job("observe", i, cal.startup_s + 2.0))
            if stale or not _done(plan.layout.exploration_file(i, REPORT_MD)):
                jobs.append(Job("observation_report", i, cal.startup_s + 3.0))
            continue
        if stale or not _done(plan.layout.hypothesis_file(i, VERDICT)):
            jobs.append(Job("stats", i, cal.startup_s + 2.0))
        if stale or not _done(plan.layout.hypothesis_file(i, REPORT_MD)):
            jobs.append(Job("report", i, cal.startup_s + 3.0))
    return jobs


def makespan(seconds: list[float], slots: int) -> float:
    """Longest-first list scheduling of independent jobs on `slots` parallel slots."""
    heap = [0.0] * max(1, slots)
    for s in sorted(seconds, reverse=True):
        heapq.heappush(heap, heapq.heappop(heap) + s)
    return max(heap)


def wall_seconds(jobs: list[Job], slots: int) -> float:
    """Training, merging and probes in parallel, then each hypothesis's statistics and report, and each
    exploration's observation and report (in parallel)."""
    first = [j.seconds for j in jobs if j.kind in ("train", "train_pack", "train_chunk", "merge_seeds", "probe")]
    per_hyp: dict[str, float] = {}
    for j in jobs:
        if j.kind in ("stats", "report", "observe", "observation_report"):
            per_hyp[j.target] = per_hyp.get(j.target, 0.0) + j.seconds
    return makespan(first, slots) + makespan(list(per_hyp.values()), slots)


# --- text -------------------------------------------------------------------------------------------------

def duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}"


def _shared_with(plan: Agenda, h: str, hyp_id: str, cond: str) -> str:
    others = [f"{i}:{c}" for i, c in plan.users[h] if (i, c) != (hyp_id, cond)]
    return f" (shared with {', '.join(others)})" if others else ""


def plan_text(plan: Agenda, ids: list[str] | None = None, cores: int | None = None, calibrate_here: bool = True) -> str:
    """The plan of `ids` (hypotheses and explorations; default: every one) as text: per condition its run,
    seeds, jobs, size and estimated time; then the totals for what is not done yet. With `calibrate_here` off
    (a dry run), times come from a cached calibration only, and are left out when there is none."""
    ids = [*sorted(plan.hypotheses), *sorted(plan.explorations)] if ids is None else ids
    unknown = [i for i in ids if i not in plan.hypotheses and i not in plan.explorations]
    if unknown:
        known = ", ".join([*sorted(plan.hypotheses), *sorted(plan.explorations)])
        raise KeyError(f"no hypothesis or exploration with id {', '.join(map(repr, unknown))}; known: {known}")
    threads = max([threads_for(plan.runs[h]) for i in ids for h in _study(plan, i).runs.values()] or [1])
    cores = cores or cpus.allotted()  # the CPUs this process was given, as the jobs count them
    cal, cal_path = calibration(threads=threads) if calibrate_here else cached_calibration(threads=threads)
    timed = cal is not None
    cal = cal or Calibration(1.0, 0.0, 0.0, threads, "", "", "")  # untimed: the job list and sizes only
    jobs = pending_jobs(plan, ids, cal)
    pending = {h for i in ids for h in _study(plan, i).runs.values() if not _done(plan.layout.run_file(h, RUN_RECORD))}

    lines = []
    for i in ids:
        hyp = _study(plan, i)
        if i in plan.explorations:
            spec = hyp.exploration
            lines.append(f"Plan for exploration {i} ({hyp.file}): {spec.title}")
        else:
            spec = hyp.hypothesis
            lines.append(f"Plan for {i} ({hyp.path}): {spec.title}")
        # As split (a finished run keeps the split it was trained with).
        per_job = sorted({max(hi - lo for lo, hi in plan.chunks[h]) if plan.is_chunked(h) else 0
                          for h in hyp.runs.values()})
        per_job_text = ", ".join(str(n) if n else "all" for n in per_job)
        lines.append(f"  device: {spec.compute.device}   seeds per job: {per_job_text}")
        header = ("condition", "run", "seeds", "jobs", "params/seed", "FLOPs", "memory", "limit", "est. time", "status")
        rows = [header]
        for cond, h in hyp.runs.items():
            cost = plan.job_cost(h)
            n_jobs = len(plan.chunks[h]) + plan.is_chunked(h)
            per_job = [plan.job_cost(h, lo, hi) for lo, hi in plan.chunks[h]]
            device = "cuda" if plan.compute[h].device == "cuda" else "cpu"
            status = "to train" if h in pending else "done"
            if h in pending and h in plan.pack_of:
                status += f" in pack {plan.pack_of[h]} ({len(plan.packs[plan.pack_of[h]])} runs, one job)"
            rows.append((cond, h, str(cost.seeds), str(n_jobs), count(cost.params_per_seed), f"{cost.flops:.2e}",
                         f"{max(costs.mem_mb(c, device) for c in per_job)} MB",
                         f"{max(costs.runtime_min(c, device) for c in per_job)} min",
                         duration(sum(cal.job_seconds(c) for c in per_job)) if timed else "—",
                         status + _shared_with(plan, h, i, cond)))
        widths = [max(len(r[k]) for r in rows) for k in range(len(header) - 1)]
        for r in rows:
            lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1])
        if getattr(hyp, "later_rounds", None):  # sequential rounds: trained only while a prediction is undecided
            seq = hyp.hypothesis.sequential
            lines.append(f"  sequential: round 1 above, then up to {len(hyp.later_rounds)} more round(s) of "
                         f"{seq.seeds_per_round} fresh seeds (at most {seq.max_seeds} per condition), each trained "
                         "only if the look after the round before leaves a prediction undecided; not counted below")
        lines.append("")

    lines += plan.memory_warnings()
    kinds = {}
    for j in jobs:
        kinds[j.kind] = kinds.get(j.kind, 0) + 1
    trained = [j for j in jobs if j.cost is not None]
    n_models = sum(j.cost.models for j in trained)
    n_runs = len(pending)
    flops = sum(j.cost.flops for j in trained)
    slots = max(1, cores // threads)
    job_list = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "none"
    lines.append(f"Jobs to run: {len(jobs)} ({job_list})")
    lines.append(f"Models to train: {n_models} ({n_runs} run(s); each seed of a condition is one model)")
    lines.append(f"Compute: {flops:.2e} FLOPs")
    untimed = " (probe jobs counted at start-up only)" if kinds.get("probe") else ""
    if not timed:
        lines.append("Wall time: not estimated (this machine is not calibrated yet; `refute plan` measures it with a "
                     "few seconds of training)")
        return "\n".join(lines)
    lines.append(f"Wall time on this machine ({cal.host}, {cores} core(s), {threads} thread(s) per job): "
                 f"≈ {duration(wall_seconds(jobs, slots)) if jobs else '0s'}{untimed}")
    lines.append(f"  calibrated {cal.measured_at}: {cal.flops_per_s / 1e9:.0f} GFLOP/s per job, "
                 f"{cal.step_overhead_s * 1e3:.2f} ms per step, {cal.startup_s:.1f} s job start-up "
                 f"(delete {cal_path} to measure again)")
    return "\n".join(lines)
