"""Training speed: refute's trainer against what a user would otherwise run, and the engine's overhead.

    .venv/bin/python benchmarks/trainer_speed.py            # the figures (~10 minutes on 2 cores)
    .venv/bin/python benchmarks/trainer_speed.py --quick    # small settings: checks that it all runs

Writes benchmarks/trainer_speed.json and .md (--quick: trainer_speed_quick.*). Every figure is
a whole-process wall time (start-up included) measured in this one run on this machine:

(a) one process per seed, two at a time, one thread each (a naive one-job-per-seed workflow);
(b) one process, the seeds one after another, torch's default threads;
(c) refute's train job (`python -m refute.jobs train`), with the threads the workflow gives it.

(a) and (b) are benchmarks/naive_seeds.py, plain PyTorch; (c) trains the same workload from a run spec.
Two regimes: small models (sparse parity n=40, k=3, MLP 40-128-2, Adam, minibatch 32 drawn fresh each
step, 16 seeds x 2,000 steps), where per-step overhead dominates; and large matmuls (grokking MLP,
embedding 128, hidden 512, AdamW, full batch of 2,823 pairs, 16 seeds x 300 steps), measured against
the float32 matmul peak at the same thread count. The sweep regime: the small model and task with 8 learning
rates x 16 seeds as one hypothesis, end to end with `snakemake --cores all`, packed (the default: runs of the
same shapes trained as one batched model) against one training job per run, tables compared byte for byte.
Then the engine overhead: the bundled example
hypotheses end to end through Snakemake, split into training and everything else. Under load
(`--parts load`): both regimes again beside one CPU-bound competitor (a busy loop pinned to one core),
(c) against (c) on the idle machine and (b) under the same load.

Figures taken on a machine shared with other work are distorted; the load average before and after
each measurement is recorded beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from refute.workflow.calibration import cpu_name  # the CPU's name, as the plan's calibration records it

ROOT = Path(__file__).resolve().parents[1]
NAIVE = ROOT / "benchmarks" / "naive_seeds.py"
PY = sys.executable

SMALL = {
    "task": {"name": "sparse_parity", "params": {"n_bits": 40, "k": 3, "online": True, "n_train": 256,
                                                 "n_val": 256}},
    "model": {"name": "mlp", "params": {"width": 128, "depth": 1}},
    "train": {"optimizer": "adam", "lr": 1.0e-3, "batch_size": 32},
    "observables": ["loss"],
}
LARGE = {
    "task": {"name": "modular_arithmetic", "params": {"p": 97, "op": "+", "train_fraction": 0.3}},
    "model": {"name": "mlp", "params": {"width": 512, "d_embed": 128, "depth": 1}},
    "train": {"optimizer": "adamw", "lr": 1.0e-3, "weight_decay": 1.0, "batch_size": "full"},
    "observables": ["loss"],
}
# Forward FLOPs per example of the large workload's matrix products (2 per multiply-add); training
# is 3x (forward, and the two backward products).
LARGE_FORWARD_FLOPS = 2 * (2 * 128 * 512 + 512 * 97)
LARGE_EXAMPLES = 2823


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def wall(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def one_thread_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def naive_per_seed(workload: str, seeds: int, steps: int) -> float:
    """(a) one process per seed, two at a time, one thread each."""
    cmds = [[PY, str(NAIVE), workload, str(s), "--steps", str(steps), "--threads", "1"] for s in range(seeds)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda c: wall(c, one_thread_env()), cmds))
    return time.perf_counter() - t0


def naive_loop(workload: str, seeds: int, steps: int) -> float:
    """(b) one process, seeds one after another, torch's default threads."""
    return wall([PY, str(NAIVE), workload, *map(str, range(seeds)), "--steps", str(steps)])


def refute_job(base: dict, seeds: int, steps: int, work: Path, env: dict | None = None) -> dict:
    """(c) refute's train job on the same workload, with the threads the workflow would give it."""
    from refute.spec.schema import RunSpec
    from refute.workflow.agenda import threads_for

    spec = {**base, "seeds": seeds, "train": {**base["train"], "steps": steps, "eval_every": steps}}
    run = RunSpec.model_validate(spec)
    threads = threads_for(run)
    path = work / "spec.json"
    path.write_text(json.dumps(run.model_dump(mode="json")))
    out = work / "run"
    shutil.rmtree(out, ignore_errors=True)
    started = time.time()
    seconds = wall([PY, "-m", "refute.jobs", "train", str(path), "--out", str(out), "--threads", str(threads)], env)
    ended = time.time()
    record = json.loads((out / "run.json").read_text())
    fit_start, fit_end = record["fit_window"]
    # Where the whole process's time went: start-up (interpreter, imports, spec), training, writing outputs.
    return {"seconds": seconds, "threads": threads, "fit_seconds": record["wall_seconds"],
            "startup_seconds": round(fit_start - started, 2), "finish_seconds": round(ended - fit_end, 2)}


def matmul_peak(threads: int, n: int = 2048, seconds: float = 3.0) -> float:
    """Best float32 GFLOP/s of an n x n matrix product at `threads` threads, in a fresh process."""
    code = f"""
import time, torch
torch.set_num_threads({threads})
a, b = torch.randn({n}, {n}), torch.randn({n}, {n}); c = torch.empty({n}, {n})
torch.mm(a, b, out=c)
best, end = 0.0, time.perf_counter() + {seconds}
while time.perf_counter() < end:
    t = time.perf_counter(); torch.mm(a, b, out=c); best = max(best, 2 * {n}**3 / (time.perf_counter() - t))
print(best / 1e9)
"""
    return float(subprocess.run([PY, "-c", code], check=True, capture_output=True, text=True).stdout)


def regime(name: str, base: dict, workload: str, seeds: int, steps: int, work: Path, repeats: int) -> dict:
    print(f"{name}: {seeds} seeds x {steps} steps", flush=True)
    out: dict = {"seeds": seeds, "steps": steps, "load_before": load()}
    runs = {"a_process_per_seed": [], "b_loop": [], "c_refute": []}
    for _ in range(repeats):  # interleaved, so a change in the machine's load hits all three alike
        runs["a_process_per_seed"].append(naive_per_seed(workload, seeds, steps))
        runs["b_loop"].append(naive_loop(workload, seeds, steps))
        job = refute_job(base, seeds, steps, work)
        if job["seconds"] <= min(runs["c_refute"], default=float("inf")):  # the breakdown of the run reported
            out["c_threads"], out["c_fit_seconds"] = job["threads"], job["fit_seconds"]
            out["c_startup_seconds"], out["c_finish_seconds"] = job["startup_seconds"], job["finish_seconds"]
        runs["c_refute"].append(job["seconds"])
    for k, v in runs.items():
        out[k] = round(min(v), 2)
        out[k + "_all"] = [round(x, 2) for x in v]
        print(f"  {k}: {out[k]:.2f} s", flush=True)
    out["speedup_over_a"] = round(out["a_process_per_seed"] / out["c_refute"], 2)
    out["speedup_over_b"] = round(out["b_loop"] / out["c_refute"], 2)
    out["load_after"] = load()
    return out


def large_regime(seeds: int, steps: int, work: Path, repeats: int) -> dict:
    out = regime("large matmuls", LARGE, "large", seeds, steps, work, repeats)
    flops = 3 * LARGE_FORWARD_FLOPS * LARGE_EXAMPLES * seeds * steps
    out["train_gflop"] = round(flops / 1e9, 1)
    out["matmul_peak_gflops"] = round(matmul_peak(out["c_threads"]), 1)
    out["c_gflops_whole_process"] = round(flops / out["c_refute"] / 1e9, 1)
    out["c_gflops_training"] = round(flops / out["c_fit_seconds"] / 1e9, 1)
    out["c_fraction_of_peak"] = round(out["c_gflops_training"] / out["matmul_peak_gflops"], 3)
    out["c_vs_best_naive"] = round(min(out["a_process_per_seed"], out["b_loop"]) / out["c_refute"], 2)
    return out


class Competitor:
    """A CPU-bound process pinned to one core (the first this process may use), for as long as the `with` lasts."""

    def __enter__(self) -> "Competitor":
        self.core = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        code = f"import os\nif hasattr(os, 'sched_setaffinity'): os.sched_setaffinity(0, {{{self.core}}})\nwhile True: pass"
        self.process = subprocess.Popen([PY, "-c", code])
        time.sleep(0.5)  # busy before the measured process starts
        return self

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.wait()


def naive_loop_capped(workload: str, seeds: int, steps: int, cap: float | None) -> tuple[float, bool]:
    """(b), stopped after `cap` seconds (beside a competitor it can take an hour): its time, and whether it was
    stopped (then the time is a lower bound)."""
    cmd = [PY, str(NAIVE), workload, *map(str, range(seeds)), "--steps", str(steps)]
    t0 = time.perf_counter()
    try:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=cap)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, True
    return time.perf_counter() - t0, False


# OpenMP as torch has it without refute's passive waiting (GNU OpenMP's default spin count), to show what it buys.
SPINNING = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "300000"}


def load_regime(name: str, base: dict, workload: str, seeds: int, steps: int, work: Path, repeats: int,
                spinning: bool, cap: float | None = None) -> dict:
    """(c) idle, then (b) and (c) beside the competitor (and, with `spinning`, (c) with OpenMP spinning as
    it does by default), interleaved; the best of `repeats` each."""
    print(f"under load, {name}: {seeds} seeds x {steps} steps", flush=True)
    out: dict = {"seeds": seeds, "steps": steps, "load_before": load()}
    runs: dict[str, list[float]] = {"c_idle": [], "b_loaded": [], "c_loaded": [], **({"c_spinning_loaded": []} if spinning else {})}
    for _ in range(repeats):
        job = refute_job(base, seeds, steps, work)
        runs["c_idle"].append(job["seconds"])
        out["c_threads"] = job["threads"]
        with Competitor() as competitor:
            out["competitor_core"] = competitor.core
            seconds, stopped = naive_loop_capped(workload, seeds, steps, cap)
            runs["b_loaded"].append(seconds)
            out["b_loaded_stopped"] = out.get("b_loaded_stopped", False) or stopped
            loaded = refute_job(base, seeds, steps, work)
            runs["c_loaded"].append(loaded["seconds"])
            out["c_loaded_fit_seconds"] = loaded["fit_seconds"]
            if spinning:
                runs["c_spinning_loaded"].append(refute_job(base, seeds, steps, work, {**os.environ, **SPINNING})["seconds"])
            out["load_loaded"] = load()
    for k, v in runs.items():
        out[k] = round(min(v), 2)
        out[k + "_all"] = [round(x, 2) for x in v]
        print(f"  {k}: {out[k]:.2f} s", flush=True)
    out["c_loaded_over_idle"] = round(out["c_loaded"] / out["c_idle"], 2)
    out["b_loaded_over_c_loaded"] = round(out["b_loaded"] / out["c_loaded"], 2)
    out["load_after"] = load()
    return out


def under_load(quick: bool, work: Path, repeats: int, large_steps: int | None = None,
               cap: float | None = None) -> dict:
    return {"small": load_regime("small models", SMALL, "small", 4 if quick else 16, 200 if quick else 2000, work,
                                 repeats, spinning=False, cap=cap),  # one thread: nothing waits for another
            "large": load_regime("large matmuls", LARGE, "large", 4 if quick else 16,
                                 large_steps or (5 if quick else 300), work, repeats, spinning=True, cap=cap)}


def load_markdown(r: dict) -> list[str]:
    lines = ["## Under load: beside one CPU-bound process pinned to one core", "",
             "| regime | (c) without the competitor | (b) beside it | (c) beside it | (c) beside it / without (target <= 2) | "
             "(b) / (c) beside it (target >= 1) | load average |", "|---|---|---|---|---|---|---|"]
    for title, x in (("small models", r.get("small")), ("large matmuls", r.get("large"))):
        if x:
            more = "> " if x.get("b_loaded_stopped") else ""  # (b) stopped at the cap: a lower bound
            ratio = x['b_loaded_over_c_loaded']
            # A lower bound under 1 decides nothing: (b) was stopped before (c) would have finished.
            verdict = "undecided ((b) stopped at the cap)" if more and ratio < 1 else met(ratio >= 1)
            lines.append(f"| {title}, {x['seeds']} seeds x {x['steps']} steps, (c) {x['c_threads']} thread(s) | "
                         f"{x['c_idle']} | {more}{x['b_loaded']} | {x['c_loaded']} | {x['c_loaded_over_idle']}: "
                         f"{met(x['c_loaded_over_idle'] <= 2)} | {more}{ratio}: {verdict} | "
                         f"{x['load_before']} -> {x['load_after']} |")
    spin = (r.get("large") or {}).get("c_spinning_loaded")
    if spin:
        lines += ["", f"Large matmuls under load with OpenMP spinning as it does by default (`GOMP_SPINCOUNT=300000`) "
                  f"instead of refute's passive waiting: {spin} s."]
    return lines + [""]


def union(windows: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one window (jobs run side by side)."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(windows):
        total += max(0.0, b - max(a, end))
        end = max(end, b)
    return total


def overhead(hypotheses: Path, work: Path, cores: str) -> dict:
    """The example hypotheses end to end: wall time, the part of it during which training (or a probe's
    own computation) ran, and each rule's job times from Snakemake's benchmark files."""
    print(f"engine overhead: {hypotheses}", flush=True)
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    before = load()
    # The bundled hypotheses include one drafted from a bundled exploration: the explorations come along.
    explorations = hypotheses.parent / "explorations"
    seconds = wall([PY, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(project), "--cores", cores,
                    "--config", f"hypotheses={hypotheses}",
                    f"explorations={explorations if explorations.is_dir() else project / 'none'}"])
    results = project / "results"
    records = [json.loads(p.read_text()) for p in results.glob("runs/**/run.json")]
    # A merged run's window spans its chunks' (and the gaps between them): count the chunks' own.
    train = [tuple(r["fit_window"]) for r in records if not r.get("chunks")]
    probe = [tuple(json.loads(p.read_text())["compute_window"]) for p in results.glob("probes/*/probe.json")]
    training, compute = union(train), union(train + probe)
    jobs: dict[str, dict] = {}
    for tsv in results.glob("benchmarks/**/*.tsv"):
        rule = tsv.parent.name if tsv.parent != results / "benchmarks" else tsv.stem
        row = dict(zip(*[line.split("\t") for line in tsv.read_text().splitlines()[:2]]))
        job = jobs.setdefault(rule, {"jobs": 0, "seconds": 0.0})
        job["jobs"] += 1
        job["seconds"] = round(job["seconds"] + float(row["s"]), 2)
    return {"hypotheses": sorted(p.name for p in hypotheses.glob("*.yaml")), "runs": len(train),
            "probes": len(probe), "wall_seconds": round(seconds, 2), "training_seconds": round(training, 2),
            "probe_only_seconds": round(compute - training, 2),
            "other_seconds": round(seconds - training, 2), "other_fraction": round(1 - training / seconds, 3),
            "other_than_training_or_probes_seconds": round(seconds - compute, 2),
            "other_than_training_or_probes_fraction": round(1 - compute / seconds, 3),
            "jobs_by_rule": dict(sorted(jobs.items())), "load_before": before, "load_after": load()}


def sweep_hypotheses(work: Path, seeds: int, steps: int) -> Path:
    """The sweep regime: the small regime's model and task, 8 learning rates x `seeds` seeds, as one hypothesis."""
    folder = work / "sweep-hypotheses"
    folder.mkdir(parents=True, exist_ok=True)
    rates = [1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 1.5e-3, 2e-3, 3e-3]
    spec = {
        "id": "lr-sweep", "title": "Adam's learning rate on sparse parity",
        "statement": "On sparse parity (n = 40, k = 3) an MLP 40-128-2 ends with a lower training loss at lr 3e-3 "
                     "than at lr 1e-4.",
        **{k: SMALL[k] for k in ("task", "model", "observables")},
        "train": {**SMALL["train"], "steps": steps, "eval_every": max(1, steps // 20)},
        "seeds": seeds,
        "conditions": {f"lr{i + 1}": {"train.lr": lr} for i, lr in enumerate(rates)},
        "predictions": [{"id": "faster-lower", "kind": "compare", "conditions": ["lr8", "lr1"], "metric": "train_loss",
                         "reduce": "final", "test": "welch", "direction": "less"}],
    }
    (folder / "lr-sweep.yaml").write_text(json.dumps(spec, indent=1))  # JSON is YAML
    return folder


def sweep(work: Path, seeds: int, steps: int, cores: str = "all") -> dict:
    """The sweep regime end to end with `snakemake --cores all`: packed (the default) against one training job per
    run (`--config pack_runs=false`); the runs' tables must be identical."""
    from refute import io

    hypotheses = sweep_hypotheses(work, seeds, steps)
    out: dict = {"seeds": seeds, "steps": steps, "conditions": 8, "load_before": load()}
    tables = {}
    for mode, extra in (("packed", []), ("one_job_per_run", ["pack_runs=false"])):
        print(f"sweep: {mode}", flush=True)
        project = work / f"sweep-{mode}"
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        seconds = wall([PY, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(project), "--cores", cores,
                        "--config", f"hypotheses={hypotheses}", f"explorations={project / 'none'}", *extra])
        results = project / "results"
        tables[mode] = {run.name: {f: io.sha256(run / f) for f in ("metrics.parquet", "weights.pt", "snapshots.pt")}
                        for run in sorted((results / "runs").iterdir())}
        train_jobs = list(results.glob("benchmarks/train/*.tsv"))
        records = [json.loads(p.read_text()) for p in results.glob("runs/*/run.json")]
        out[mode] = {"wall_seconds": round(seconds, 2), "training_jobs": len(train_jobs),
                     "training_seconds": round(union([tuple(r["fit_window"]) for r in records]), 2),
                     "verdict": json.loads((results / "lr-sweep/verdict.json").read_text())["verdict"]}
    out["identical_tables"] = tables["packed"] == tables["one_job_per_run"] and len(tables["packed"]) == 8
    out["speedup"] = round(out["one_job_per_run"]["wall_seconds"] / out["packed"]["wall_seconds"], 2)
    out["load_after"] = load()
    return out


def quick_hypotheses(work: Path) -> Path:
    """One tiny hypothesis, for checking the overhead measurement runs (its fraction means little)."""
    folder = work / "hypotheses"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quick.yaml").write_text("""
id: quick
title: quick
statement: a tiny MLP learns modular addition mod 11
task: {name: modular_arithmetic, params: {p: 11, train_fraction: 0.5}}
model: {name: mlp, params: {width: 32, d_embed: 8}}
train: {optimizer: adamw, lr: 1.0e-2, steps: 200, eval_every: 50}
seeds: 3
observables: [loss, accuracy]
predictions:
  - {id: fits, kind: threshold, condition: default, metric: train_acc, reduce: final, threshold: 0.5,
     direction: greater}
""")
    return folder


def met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def markdown(r: dict) -> str:
    s, g, o = r.get("small"), r.get("large"), r.get("overhead")
    lines = [f"# Trainer speed ({'quick check, not figures' if r['quick'] else 'figures'})", "",
             f"{r['machine']['cpu']}, {r['machine']['cores']} cores, torch {r['machine']['torch']}, "
             f"{r['date']}. Load average (1, 5, 15 min) beside each part: figures taken under load are distorted.", ""]
    # Parts rerun on their own later (merged into this file by hand), with when and how.
    lines += [f"- {k.removesuffix('_date')} measured {v}" for k, v in r.items() if k.endswith("_date")]
    lines += [""] if any(k.endswith("_date") for k in r) else []
    for title, x in (("Small models", s), ("Large matmuls", g)):
        if not x:
            continue
        lines += [f"## {title}: {x['seeds']} seeds x {x['steps']} steps (load {x['load_before']} -> {x['load_after']})",
                  "", "| variant | wall s (whole process) |", "|---|---|",
                  f"| (a) one process per seed, 2 at a time, 1 thread | {x['a_process_per_seed']} |",
                  f"| (b) one process, seeds in a loop, default threads | {x['b_loop']} |",
                  f"| (c) refute, {x['c_threads']} thread(s) | {x['c_refute']} |",
                  "", f"Speed-up of (c): {x['speedup_over_a']}x over (a), {x['speedup_over_b']}x over (b). "
                  f"(c) is start-up (interpreter, imports, spec) {x.get('c_startup_seconds', '?')} s, training "
                  f"{x['c_fit_seconds']} s, writing its outputs {x.get('c_finish_seconds', '?')} s.", ""]
        if "matmul_peak_gflops" not in x:
            lines += [f"Targets (issue 10): >= 6x over (b): {met(x['speedup_over_b'] >= 6)}; >= 12x over (a): "
                      f"{met(x['speedup_over_a'] >= 12)}.", ""]
        if "matmul_peak_gflops" in x:
            lines += [f"Training FLOPs {x['train_gflop']} GFLOP; (c) reaches {x['c_gflops_training']} GFLOP/s while "
                      f"training ({x['c_gflops_whole_process']} over the whole process), "
                      f"{100 * x['c_fraction_of_peak']:.0f}% of the float32 matmul peak of "
                      f"{x['matmul_peak_gflops']} GFLOP/s at {x['c_threads']} thread(s), measured in this run; "
                      f"(c) vs the better of (a)/(b): {x['c_vs_best_naive']}x.", "",
                      f"Targets (issue 10): no slower than the better of (a) and (b): {met(x['c_vs_best_naive'] >= 1)}; "
                      f">= 50% of the matmul peak: {met(x['c_fraction_of_peak'] >= 0.5)}.", ""]
            if reruns := x.get("reruns"):  # (b) and (c) again, back to back: how far one run's ratio is from noise
                lines += [f"Rerun (b) then (c), back to back, {reruns['how']}: "
                          + "; ".join(f"(b) {b} s, (c) {c} s: (c)/(b) = {c / b:.2f}" for b, c in reruns["pairs"])
                          + ".", ""]
    if w := r.get("sweep"):
        p, u = w["packed"], w["one_job_per_run"]
        lines += [f"## Sweep: 8 learning rates x {w['seeds']} seeds x {w['steps']} steps, end to end "
                  f"(load {w['load_before']} -> {w['load_after']})", "",
                  "The small regime's model and task as one hypothesis, `snakemake --cores all`, from nothing to the "
                  "verdict.", "",
                  "| variant | training jobs | wall s | training s (any job in its loop) | verdict |", "|---|---|---|---|---|",
                  f"| packed (the default) | {p['training_jobs']} | {p['wall_seconds']} | {p['training_seconds']} | "
                  f"{p['verdict']} |",
                  f"| one training job per run (`--config pack_runs=false`) | {u['training_jobs']} | {u['wall_seconds']} | "
                  f"{u['training_seconds']} | {u['verdict']} |", "",
                  f"Speed-up of packing: {w['speedup']}x; the runs' tables (metrics, weights, snapshots) identical "
                  f"byte for byte: {'yes' if w['identical_tables'] else '**no**'}.", "",
                  f"Target (issue 17): >= 4x with identical tables: {met(w['speedup'] >= 4 and w['identical_tables'])}.",
                  "",
                  f"Outside training (Snakemake's start, each job's start-up and writing, statistics, report, index): "
                  f"{p['wall_seconds'] - p['training_seconds']:.1f} s packed, "
                  f"{u['wall_seconds'] - u['training_seconds']:.1f} s one job per run. 4x would need the packed run to "
                  f"take {u['wall_seconds'] / 4:.1f} s"
                  + (f", less than its training alone ({p['training_seconds']} s)."
                     if u['wall_seconds'] / 4 < p['training_seconds'] else "."), ""]
    if o:
        lines += [f"## Engine overhead (load {o['load_before']} -> {o['load_after']})", "",
                  f"{', '.join(o['hypotheses'])}: {o['runs']} runs in "
                  f"{o['jobs_by_rule'].get('train', {}).get('jobs', o['runs'])} training jobs and {o['probes']} probe jobs, "
                  f"{o['wall_seconds']} s end to end with `snakemake --cores all`.", "",
                  "| part | seconds | share |", "|---|---|---|",
                  f"| training (while any training job was in its loop) | {o['training_seconds']} | "
                  f"{100 * (1 - o['other_fraction']):.1f}% |",
                  f"| probes' own computation (not overlapping training) | {o['probe_only_seconds']} | "
                  f"{100 * o['probe_only_seconds'] / o['wall_seconds']:.1f}% |",
                  f"| everything else (Snakemake, start-up, statistics, figures, report) | "
                  f"{o['other_than_training_or_probes_seconds']} | "
                  f"{100 * o['other_than_training_or_probes_fraction']:.1f}% |", "",
                  "Job times by rule (Snakemake's benchmark files; jobs overlap on several cores):", "",
                  "| rule | jobs | seconds, summed |", "|---|---|---|",
                  *[f"| {r} | {j['jobs']} | {j['seconds']} |" for r, j in o["jobs_by_rule"].items()], "",
                  f"Target (issue 10): everything else < 5%: {met(o['other_than_training_or_probes_fraction'] < 0.05)}.", ""]
        others = sum(j["seconds"] for rule, j in o["jobs_by_rule"].items() if rule != "train")
        cores = r["machine"]["cores"]
        lines += [f"The jobs of the other rules took {others:.1f} s summed (one thread each). On {cores} cores they "
                  f"fill {others / cores:.1f} s of wall time ({100 * others / cores / o['wall_seconds']:.1f}% of this run) "
                  "wherever the scheduler puts them, except while they run beside a one-thread training job: "
                  "a two-thread training job takes every core.", ""]
    if r.get("load"):
        lines += load_markdown(r["load"])
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small settings: checks the benchmark runs")
    ap.add_argument("--parts", default="small,large,sweep,overhead",
                    help="comma-separated: small, large, sweep, overhead, load")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each variant (the best is reported)")
    ap.add_argument("--load-large-steps", type=int, metavar="N",
                    help="steps of the large regime under load (default: as in the large part; fewer on a busy machine)")
    ap.add_argument("--load-cap", type=float, metavar="SECONDS",
                    help="stop (b) under load after this long and report a lower bound (default: never)")
    ap.add_argument("--out", help="output stem (default benchmarks/trainer_speed[_quick])")
    ap.add_argument("--markdown", metavar="JSON", help="only rewrite the .md beside a results .json")
    a = ap.parse_args()
    if a.markdown:
        Path(a.markdown).with_suffix(".md").write_text(markdown(json.loads(Path(a.markdown).read_text())))
        return
    parts = set(a.parts.split(","))
    stem = Path(a.out) if a.out else ROOT / "benchmarks" / ("trainer_speed_quick" if a.quick else "trainer_speed")
    import torch

    result = {"quick": a.quick, "date": time.strftime("%Y-%m-%d %H:%M"),
              "machine": {"cpu": cpu_name(), "cores": os.cpu_count(),
                          "torch": torch.__version__, "python": platform.python_version()}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "small" in parts:
            result["small"] = regime("small models", SMALL, "small", 4 if a.quick else 16, 200 if a.quick else 2000,
                                     work, a.repeats)
        if "large" in parts:
            result["large"] = large_regime(4 if a.quick else 16, 5 if a.quick else 300, work, a.repeats)
        if "sweep" in parts:
            result["sweep"] = sweep(work, 4 if a.quick else 16, 200 if a.quick else 2000)
        if "overhead" in parts:
            hyps = quick_hypotheses(work) if a.quick else ROOT / "hypotheses"
            result["overhead"] = overhead(hyps, work, "all")
        if "load" in parts:
            result["load"] = under_load(a.quick, work, a.repeats, a.load_large_steps, a.load_cap)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
