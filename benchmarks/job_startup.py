"""Job start-up: what each kind of job pays before its own work, per rule, before and after a change.

    .venv/bin/python benchmarks/job_startup.py                    # this tree against main (~10 min on 2 cores)
    .venv/bin/python benchmarks/job_startup.py --baseline HEAD~3  # against another commit
    .venv/bin/python benchmarks/job_startup.py --quick            # one hypothesis, one repeat: checks it runs

Writes benchmarks/job_startup.json and .md (--quick: job_startup_quick.*). Two source trees are measured the
same way, one after the other: the baseline (`git archive` of --baseline: src/, Snakefile, rules/) and this
working tree.

1. Entry imports, every job kind: a fresh interpreter imports what `python -m refute.jobs <stage>` imports
   before its work (the user-component registries and the stage's module); best of --repeats, wall seconds,
   and which heavy libraries that loads.
2. A small agenda (three bundled hypotheses, copied) end to end with `snakemake -c 2`: wall time and each
   rule's job times from the benchmark files the rules write (results/benchmarks/<rule>/...tsv).
3. One job of each kind of that agenda rerun by hand in a fresh interpreter: best of --repeats, wall and CPU
   seconds; once more under `python -X importtime` for the seconds spent importing and the heaviest imports.

Figures on a machine shared with other work are inflated (imports most of all); the load average before and
after each part is recorded beside it, and the two trees alternate in parts 1 and 3 so that both see the same
load. CPU seconds move less with load than wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SMALL_AGENDA = ["deep-linear-stagewise", "localization-budget", "wd-grok-mod17"]
HEAVY = ["torch", "pandas", "pyarrow", "scipy", "statsmodels", "matplotlib", "sklearn", "jinja2", "pydantic"]
# What `python -m refute.jobs <stage>` imports before the stage's work (src/refute/jobs.py).
STAGE_MODULES = {
    "train": ["refute.workflow.parent", "refute.scaling.tuning", "refute.training.job"],
    "merge": ["refute.training.chunks"],
    "probe": ["refute.workflow.parent", "refute.probing.job"],
    "stats": ["refute.stats.analyse"],
    "round": ["refute.stats.sequential"],
    "report": ["refute.report.html", "refute.report.markdown"],
    "observe": ["refute.stats.observe"],
    "observation-report": ["refute.report.observation"],
    "index": ["refute.report.index"],
}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def env_for(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, of the process and its children) of one command; its stderr."""
    before = os.times()
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = os.times()
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, done.stderr


def entry_imports(trees: dict[str, Path], repeats: int) -> dict:
    """Part 1: each stage's imports in a fresh interpreter, the trees alternating."""
    print("entry imports", flush=True)
    out: dict = {"load_before": load()}
    for stage, modules in STAGE_MODULES.items():
        row = {}
        for name, src in trees.items():
            prog = ("import sys, json\nfrom refute.components.user import load_components\nload_components(None)\n"
                    + "".join(f"import {m}\n" for m in modules)
                    + f"print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]), file=sys.stderr)\n")
            best, heavy = None, []
            for _ in range(repeats):
                wall, cpu, err = timed([PY, "-c", prog], env_for(src))
                heavy = json.loads(err.strip().splitlines()[-1])
                best = min(best or (wall, cpu), (wall, cpu))
            row[name] = {"wall_s": round(best[0], 3), "cpu_s": round(best[1], 3), "loads": heavy}
        out[stage] = row
        print(f"  {stage}: {row}", flush=True)
    out["load_after"] = load()
    return out


def agenda(tree: Path, hypotheses: Path, work: Path) -> dict:
    """Part 2: the small agenda end to end; every rule's job times from its benchmark files."""
    print(f"agenda with {tree}", flush=True)
    results = work / "results"
    before = load()
    wall, cpu, _ = timed([PY, "-m", "snakemake", "-s", str(tree / "Snakefile"), "-d", str(work), "-c", "2",
                          "--config", f"hypotheses={hypotheses}", f"explorations={work / 'no-explorations'}",
                          f"results={results}"], env_for(tree / "src"), cwd=work)
    rules: dict[str, dict] = {}
    for tsv in sorted(results.glob("benchmarks/**/*.tsv")):
        rule = tsv.parent.name if tsv.parent != results / "benchmarks" else tsv.stem
        row = dict(zip(*[line.split("\t") for line in tsv.read_text().splitlines()[:2]]))
        r = rules.setdefault(rule, {"jobs": 0, "seconds": 0.0, "cpu_seconds": 0.0})
        r["jobs"] += 1
        r["seconds"] = round(r["seconds"] + float(row["s"]), 2)
        r["cpu_seconds"] = round(r["cpu_seconds"] + float(row["cpu_time"]), 2)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rules": rules, "load_before": before,
            "load_after": load()}


def job_commands(results: Path) -> dict[str, list[str]]:
    """One job of each kind of a finished agenda, as its rule runs it (the smallest training run)."""
    runs = sorted(results.glob("runs/*/run.json"), key=lambda p: json.loads(p.read_text())["wall_seconds"])
    plans = sorted(results.glob("plans/*.json"))
    hid = json.loads(plans[0].read_text())["hypothesis"]["id"]
    cmds = {"train": ["train", str(runs[0].parent / "spec.json"), "--out", "{scratch}/train"],
            "stats": ["stats", str(plans[0]), "--results", str(results)],
            "report": ["report", hid, "--results", str(results)],
            "index": ["index", "--plans", *map(str, plans), "--results", str(results)]}
    probes = sorted(results.glob("probes/*/spec.json"))
    if probes:
        cmds["probe"] = ["probe", str(probes[0]), "--out", "{scratch}/probe", "--results", str(results)]
    return cmds


def import_seconds(stderr: str) -> tuple[float, list[tuple[str, float]]]:
    """From `-X importtime`: the seconds spent importing, and the five packages that took most of them (each
    module's own time, summed by top-level package: pandas imported by refute counts as pandas)."""
    by: dict[str, float] = {}
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if m:
            top = m.group(2).split(".")[0]
            by[top] = by.get(top, 0.0) + int(m.group(1)) / 1e6
    heaviest = sorted(by.items(), key=lambda kv: -kv[1])[:5]
    return round(sum(by.values()), 3), [(k, round(v, 3)) for k, v in heaviest]


def jobs(trees: dict[str, Path], results: dict[str, Path], repeats: int, scratch: Path) -> dict:
    """Part 3: each kind of job rerun by hand (on a copy of its tree's results), the trees alternating."""
    print("jobs by hand", flush=True)
    copies = {}
    for name, res in results.items():
        copies[name] = scratch / f"results-{name}"
        shutil.rmtree(copies[name], ignore_errors=True)
        shutil.copytree(res, copies[name])
    cmds = {name: job_commands(copies[name]) for name in trees}
    out: dict = {"load_before": load()}
    for kind in cmds[next(iter(trees))]:
        row = {}
        for name, src in trees.items():
            best = None
            for i in range(repeats + 1):
                where = scratch / f"{name}-{kind}-{i}"
                args = [a.replace("{scratch}", str(where)) for a in cmds[name][kind]]
                flags = ["-X", "importtime"] if i == repeats else []
                wall, cpu, err = timed([PY, *flags, "-m", "refute.jobs", *args], env_for(src))
                shutil.rmtree(where, ignore_errors=True)
                if flags:
                    imports, heaviest = import_seconds(err)
                else:
                    best = min(best or (wall, cpu), (wall, cpu))
            row[name] = {"wall_s": round(best[0], 3), "cpu_s": round(best[1], 3), "import_s": imports,
                         "heaviest_imports": heaviest}
        out[kind] = row
        print(f"  {kind}: {row}", flush=True)
    out["load_after"] = load()
    return out


def baseline_tree(ref: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src", "Snakefile", "rules", "envs"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def markdown(r: dict) -> str:
    names = list(r["trees"])
    a, b = names

    def ratio(x: float, y: float) -> str:
        return f"{x / y:.2f}×" if y else "–"

    lines = [f"# Job start-up: {a} ({r['trees'][a]}) against {b} ({r['trees'][b]})", "",
             f"{r['machine']}, Python {r['python']}, {r['date']}. Load averages (1, 5, 15 min) beside each part: "
             "figures under load are inflated, imports most of all.", "",
             f"## Entry imports, per job kind (best of {r['repeats']}; load {r['imports']['load_before']} → "
             f"{r['imports']['load_after']})", "",
             f"| job | {a} wall s | {a} cpu s | {b} wall s | {b} cpu s | cpu {a}/{b} | {b} loads |",
             "|---|---|---|---|---|---|---|"]
    for stage in STAGE_MODULES:
        x, y = r["imports"][stage][a], r["imports"][stage][b]
        lines.append(f"| {stage} | {x['wall_s']:.2f} | {x['cpu_s']:.2f} | {y['wall_s']:.2f} | {y['cpu_s']:.2f} | "
                     f"{ratio(x['cpu_s'], y['cpu_s'])} | {', '.join(y['loads'])} |")
    lines += ["", "## The small agenda end to end (`snakemake -c 2`: " + ", ".join(r["agenda_hypotheses"]) + ")", ""]
    lines += [f"| | {a} | {b} |", "|---|---|---|",
              f"| wall s | {r['agenda'][a]['wall_s']} | {r['agenda'][b]['wall_s']} |",
              f"| load before → after | {r['agenda'][a]['load_before']} → {r['agenda'][a]['load_after']} | "
              f"{r['agenda'][b]['load_before']} → {r['agenda'][b]['load_after']} |"]
    lines += ["", "Per rule, from the rules' benchmark files (sum over the rule's jobs; s = wall, cpu = CPU seconds):",
              "", f"| rule | jobs | {a} s | {a} cpu | {b} s | {b} cpu |", "|---|---|---|---|---|---|"]
    for rule in sorted(set(r["agenda"][a]["rules"]) | set(r["agenda"][b]["rules"])):
        x = r["agenda"][a]["rules"].get(rule, {"jobs": 0, "seconds": 0, "cpu_seconds": 0})
        y = r["agenda"][b]["rules"].get(rule, {"jobs": 0, "seconds": 0, "cpu_seconds": 0})
        lines.append(f"| {rule} | {y['jobs']} | {x['seconds']} | {x['cpu_seconds']} | {y['seconds']} | "
                     f"{y['cpu_seconds']} |")
    j = r["jobs"]
    lines += ["", f"## One job of each kind rerun by hand (best of {r['repeats']}; load {j['load_before']} → "
                  f"{j['load_after']})", "",
              f"| job | {a} wall s | {a} cpu s | {a} imports s | {b} wall s | {b} cpu s | {b} imports s | "
              f"{b}'s heaviest imports (s) |", "|---|---|---|---|---|---|---|---|"]
    for kind, row in j.items():
        if kind.startswith("load"):
            continue
        x, y = row[a], row[b]
        heavy = ", ".join(f"{k} {v}" for k, v in y["heaviest_imports"])
        lines.append(f"| {kind} | {x['wall_s']} | {x['cpu_s']} | {x['import_s']} | {y['wall_s']} | {y['cpu_s']} | "
                     f"{y['import_s']} | {heavy} |")
    lines += ["", "Imports are timed under `python -X importtime` (a separate run: the tool adds its own cost).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="main", help="the commit to compare with (default: main)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one hypothesis, one repeat: checks that it runs")
    ap.add_argument("--out", help="output stem (default benchmarks/job_startup[_quick])")
    ap.add_argument("--markdown", action="store_true", help="only rewrite the .md from the stem's .json")
    a = ap.parse_args(argv)
    repeats = 1 if a.quick else a.repeats
    stem = Path(a.out) if a.out else ROOT / "benchmarks" / ("job_startup_quick" if a.quick else "job_startup")
    if a.markdown:
        stem.with_suffix(".md").write_text(markdown(json.loads(stem.with_suffix(".json").read_text())))
        return 0
    hypotheses = SMALL_AGENDA[-1:] if a.quick else SMALL_AGENDA
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", a.baseline], capture_output=True,
                            text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="job_startup_") as tmp:
        work = Path(tmp)
        trees = {"before": baseline_tree(a.baseline, work / "baseline"), "after": ROOT}
        hyps = work / "hypotheses"
        hyps.mkdir()
        for h in hypotheses:
            shutil.copy(ROOT / "hypotheses" / f"{h}.yaml", hyps)
        result = {"trees": {"before": f"{a.baseline} {commit}", "after": "this working tree"},
                  "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
                  "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  "repeats": repeats, "agenda_hypotheses": hypotheses}
        result["imports"] = entry_imports({k: v / "src" for k, v in trees.items()}, repeats)
        result["agenda"], results = {}, {}
        for name, tree in trees.items():
            project = work / f"project-{name}"
            (project / "no-explorations").mkdir(parents=True)
            result["agenda"][name] = agenda(tree, hyps, project)
            results[name] = project / "results"
        result["jobs"] = jobs({k: v / "src" for k, v in trees.items()}, results, repeats, work)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {stem}.json and {stem}.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
