"""The statistics stage: gather a hypothesis's runs, reduce them, test each prediction, decide.

Per prediction: reduce every (condition, seed, metric) the prediction names to one number; set
failed (diverged) runs aside or, with `analysis.failed_runs: against`, give them the prediction's
least favourable value; run the kind's test. Across predictions: correct the p-values (Holm by
default), judge each prediction on its corrected p and on a CI widened to match (Bonferroni,
level 1 − α/k), plan the seeds an undecided prediction would need, and decide the verdict.
"""

from __future__ import annotations

import math
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from refute import io
from refute.components.probes import PROBES, address, disjoint_pairs
from refute.components.predictions import PREDICTIONS
from refute.layout import METRICS, OBSERVATIONS, PROBE_RECORD, PROBE_TABLE, PROBE_VALUES, REDUCED, RUN_RECORD, Layout
from refute.spec.plan import Plan, read_plan
from refute.components import reductions
from refute.components.predictions import across_metrics, optimum
from refute.components.predictions.optimum import conditions_read
from refute.stats import preregistration, records, sequential
from refute.stats.censoring import judge_censored
from refute.stats.health import Certificates, failure_texts, judge_health, uncertified
from refute.stats.code_version import code_versions
from refute.stats.records import PredictionRecord, TestRecord, VerdictRecord
from refute.stats.alternatives import judge_alternatives
from refute.stats.correction import adjust
from refute.components.predictions import DATA_COLUMNS
from refute.components.predictions.outcome import UNDECIDED, decide

PACKAGES = ["refute", "torch", "numpy", "scipy", "statsmodels", "pandas", "pydantic", "snakemake"]
REDUCED_COLUMNS = ["prediction", "condition", "seed", "metric", "role", "x", "value", "censored", "failed", "certified",
                   "used"]


def read_runs(hyp: Plan, results: Path, rounds: int = 1) -> tuple[pd.DataFrame, dict[str, dict]]:
    """The tidy table of every condition (condition, seed, step, metric, value) and each run's record; for a
    sequential hypothesis, of its rounds 1..`rounds`, each condition's records merged (seeds, divergences)."""
    frames, meta = [], {}
    for k in range(1, rounds + 1):
        for cond, h in (hyp.runs if k == 1 else hyp.round_runs(k)).items():  # an exploration has one round
            record = Layout(results).run_file(h, RUN_RECORD)
            m = io.read_json(record)
            frame = io.read_parquet(Layout(results).run_file(h, METRICS), m, record)
            frame.insert(0, "condition", cond)
            frames.append(frame)
            meta[cond] = m if cond not in meta else sequential.merge_records(meta[cond], m)
    return pd.concat(frames, ignore_index=True), meta


PROBE_COLUMNS = ["condition", "seed", "step", "probe", "metric", "site", "unit", "value"]


def read_probes(hyp: Plan, results: Path) -> pd.DataFrame:
    """Every probe table of the hypothesis: condition, seed, step, probe, metric, site, unit, value."""
    frames = []
    for job in hyp.probe_jobs:
        folder = Layout(results).probe_dir(job.hash)
        record = folder / PROBE_RECORD
        frame = io.read_parquet(folder / PROBE_VALUES, io.read_json(record), record)
        frame.insert(0, "condition", job.condition)
        frame.insert(3, "probe", job.probe)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=PROBE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PROBE_COLUMNS]


def probe_observations(probes: pd.DataFrame) -> pd.DataFrame:
    """Probe summary rows (no unit) as observations, named <probe>/<metric>[@<site>] for predictions."""
    summary = probes[probes.unit == ""]
    names = [address(p, m, s) for p, m, s in zip(summary.probe, summary.metric, summary.site)]
    return pd.DataFrame({"condition": summary.condition, "seed": summary.seed, "step": summary.step,
                         "metric": names, "value": summary.value})


def diverged_seeds(meta: dict[str, dict]) -> dict[str, dict[int, int]]:
    """condition → {seed: step at which its loss became non-finite}"""
    return {c: {int(s): int(step) for s, step in m.get("diverged", {}).items()} for c, m in meta.items()}


def seed_pair_probes(hyp: Plan) -> dict[str, set[str]]:
    """condition → the ids of its probes whose values compare two seeds each (Probe.seed_pairs)."""
    out: dict[str, set[str]] = {}
    for probe in hyp.hypothesis.probes:
        if PROBES.get(probe.name).impl.seed_pairs(probe):
            for c in hyp.conditions:
                if probe.conditions is None or c in probe.conditions:
                    out.setdefault(c, set()).add(probe.label)
    return out


def reads_seed_pairs(metric: str, condition: str, pairs: dict[str, set[str]]) -> bool:
    return isinstance(metric, str) and "/" in metric and metric.split("/", 1)[0] in pairs.get(condition, set())


def seed_pair_notes(pred, hyp: Plan) -> list[str]:
    """What the test of values from pairs of runs rests on, said in its outcome."""
    pairs = seed_pair_probes(hyp)
    read = {(u.condition, u.metric) for u in pred.units(hyp.conditions) if reads_seed_pairs(u.metric, u.condition, pairs)}
    if not read:
        return []
    seeds = list(hyp.conditions[sorted(read)[0][0]].seeds)
    shown = ", ".join(f"({a}, {b})" for a, b in disjoint_pairs(seeds)[:4])
    more = ", …" if len(disjoint_pairs(seeds)) > 4 else ""
    odd = f"; seed {seeds[-1]} has no partner and is left out" if len(seeds) % 2 else ""
    return [f"{', '.join(sorted({m for _, m in read}))} compares two runs per value: tested on disjoint seed pairs "
            f"{shown}{more}, one independent value per pair (recorded under its first seed){odd}; n counts pairs"]


def reduce_runs(pred, hyp: Plan, table: pd.DataFrame, meta: dict[str, dict], units=None) -> pd.DataFrame:
    """One row per (unit, seed): the reduced value, whether it is censored, whether the run failed, and whether
    the evaluations it read passed their estimator's health certificates (`certified`; `health` says why
    not, refute.stats.health). `units`: what to reduce (default: the prediction's units). A probe output
    that compares pairs of seeds gives one row per disjoint pair, under its first seed."""
    diverged = diverged_seeds(meta)
    pairs = seed_pair_probes(hyp)
    rows = []
    for unit in pred.units(hyp.conditions) if units is None else units:
        budget = meta[unit.condition]["steps"]
        sub = table[(table.condition == unit.condition) & (table.metric == unit.metric)]
        seeds = sorted(set(meta[unit.condition].get("seeds", [])) | set(sub.seed.unique()))
        if reads_seed_pairs(unit.metric, unit.condition, pairs):
            seeds = [a for a, _ in disjoint_pairs(list(hyp.conditions[unit.condition].seeds))]
        groups = dict(tuple(sub.groupby("seed", sort=True)))
        certificates = Certificates(table, unit.condition, unit.metric)
        for seed in seeds:
            g = groups.get(seed)
            value = (reductions.apply(unit.reduce, g.step.to_numpy(), g.value.to_numpy(), budget)
                     if g is not None and len(g) else float("nan"))
            health = (certificates.failure(int(seed), reductions.steps_read(unit.reduce, g.step.to_numpy(),
                                                                            g.value.to_numpy(), budget))
                      if g is not None and len(g) else None)
            censored = reductions.is_censored(unit.reduce, value, budget)
            if pred.divide_by is not None and unit.role == "y":
                value = value / pred.divide_by.of(hyp.conditions[unit.condition])
            rows.append({"prediction": pred.id, "condition": unit.condition, "seed": int(seed), "metric": unit.metric,
                         "role": unit.role, "x": math.nan if unit.x is None else float(unit.x), "value": value,
                         "censored": censored,
                         "failed": int(seed) in diverged.get(unit.condition, {}),
                         "certified": health is None, "health": health or ""})
    frame = pd.DataFrame(rows, columns=[*REDUCED_COLUMNS[:-1], "health"])
    frame["failed"] = frame.failed.astype(bool)
    frame["censored"] = frame.censored.astype(bool)
    frame["certified"] = frame.certified.astype(bool)
    return frame


def reduce_optimum(pred, hyp: Plan, table: pd.DataFrame,
                   meta: dict[str, dict]) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """For a prediction whose metric is an optimum across a sweep: reduce every member run, then one row per
    (group, seed) with the swept value at the optimum (refute.components.predictions.optimum); and the
    member values that failed their health certificates (an optimum read from one is not certified)."""
    opt = pred.metric
    groups = optimum.groups(opt, hyp.conditions)
    members, units = {}, []
    for u in pred.units(optimum.view(opt, hyp.conditions)):
        for c in groups[u.condition]:
            members[c] = (u.condition, u.x)
            units.append(u._replace(condition=c, metric=opt.of, x=None))
    reduced = reduce_runs(pred, hyp, table, meta, units)
    return (*optimum.per_run(opt, reduced, members, hyp.conditions), uncertified(reduced))


def tested_rows(pred, hyp: Plan, reduced: pd.DataFrame, failed_runs: str) -> tuple[pd.DataFrame, dict, list[str]]:
    """The rows the test sees, the counts of rows it does not, and notes saying why."""
    reduced = reduced.copy()
    if pred.counts_divergence():
        # Divergence is what this prediction counts: a diverged run is an outcome (value 1), not a failure.
        reduced["value"] = reduced.failed.astype(float)
        reduced["used"] = True
        n, k = int(len(reduced)), int(reduced.failed.sum())
        counts = {"runs": n, "used": n, "failed": 0, "no_value": 0, "censored": 0}
        return reduced, counts, [f"{k} of {n} run(s) diverged (non-finite loss): counted as outcomes, not failures"]
    if failed_runs == "against":
        units = {(u.condition, u.metric, u.role): u for u in pred.units(hyp.conditions)}
        for i in reduced.index[reduced.failed]:
            r = reduced.loc[i]
            reduced.loc[i, "value"] = pred.least_favourable(units[(r.condition, r.metric, r.role)])
        usable = ~reduced.value.isna()
    else:
        usable = ~reduced.failed & np.isfinite(reduced.value)
    reduced["used"] = usable
    counts = {
        "runs": int(len(reduced)),
        "used": int(usable.sum()),
        "failed": int(reduced.failed.sum()),
        "no_value": int((~reduced.failed & ~np.isfinite(reduced.value)).sum()),
        "censored": int((reduced.censored & usable).sum()),
    }
    notes = []
    if counts["failed"]:
        if failed_runs == "against":
            notes.append(f"{counts['failed']} failed (diverged) run(s) counted against the prediction as its least "
                         "favourable outcome")
        else:
            notes.append(f"{counts['failed']} failed (diverged) run(s) set aside; they make the verdict INVALID "
                         "(analysis.failed_runs: invalid)")
    if counts["no_value"]:
        notes.append(f"{counts['no_value']} run(s) had no value (never crossed, or non-finite) and were left out")
    if counts["censored"]:
        notes.append(f"{counts['censored']} run(s) never crossed within the step budget; their value is the budget, "
                     "a lower bound on the true step")
    return reduced, counts, notes


def analyse(plan_path: str | Path, results: str | Path = "results") -> VerdictRecord:
    """Write results/<id>/{observations.parquet, probes.parquet, reduced.parquet, predictions.json, verdict.json}
    for the plan file the workflow wrote (and seal the plan beside its hypothesis if the workflow has not)."""
    results = Path(results)
    hyp = read_plan(plan_path)
    rounds = sequential.trained_rounds(hyp, results)
    if rounds > 1:  # stop at the first round that decides (the same rule that chose to train the next)
        rounds = sequential.stop_round(hyp, tested_data(hyp, results, rounds), rounds)
    return analyse_rounds(hyp, Path(plan_path).stem, results, rounds)


Tested = tuple[pd.DataFrame, list[str], pd.DataFrame]  # reduced rows, notes, values whose certificate failed


def tested(hyp: Plan, results: Path, rounds: int = 1) -> tuple[dict[str, Tested], pd.DataFrame, pd.DataFrame,
                                                                dict[str, dict]]:
    """Each prediction's reduced rows (every run it reads), its notes and its values whose certificate failed,
    with the observation and probe tables and the runs' records, from rounds 1..`rounds`."""
    table, meta = read_runs(hyp, results, rounds)
    probes = read_probes(hyp, results)
    if len(probes):
        table = pd.concat([table, probe_observations(probes)], ignore_index=True)
    per_pred = {}
    for pred in hyp.hypothesis.predictions:
        optimum_notes = []
        if isinstance(getattr(pred, "metric", None), optimum.Optimum):
            per_unit, optimum_notes, unhealthy = reduce_optimum(pred, hyp, table, meta)
        else:
            per_unit = reduce_runs(pred, hyp, table, meta)
            unhealthy = uncertified(per_unit)
        if isinstance(getattr(pred, "metric", None), across_metrics.AcrossMetrics):
            per_unit = across_metrics.per_run(pred.metric, per_unit)
        if "certified" not in per_unit:  # a value made of several: certified when all it read were
            per_unit = per_unit.assign(certified=~per_unit.seed.isin(set(unhealthy.seed)))
        per_pred[pred.id] = (per_unit, optimum_notes, unhealthy)
    return per_pred, table, probes, meta


def tested_data(hyp: Plan, results: Path, rounds: int) -> dict[str, pd.DataFrame]:
    """prediction id → the rows its test sees, from rounds 1..`rounds`."""
    per_pred = tested(hyp, results, rounds)[0]
    out = {}
    for pred in hyp.hypothesis.predictions:
        rows = tested_rows(pred, hyp, per_pred[pred.id][0], hyp.hypothesis.analysis.failed_runs)[0]
        out[pred.id] = rows.loc[rows.used, DATA_COLUMNS].reset_index(drop=True)
    return out


def analyse_rounds(hyp: Plan, digest: str, results: Path, rounds: int = 1) -> VerdictRecord:
    """`analyse` on rounds 1..`rounds` of the plan whose file is named `digest`."""
    out_dir = Layout(results).hypothesis_dir(hyp.id)
    registration = preregistration.check(hyp, results)
    seen = preregistration.seen_by_prediction(hyp, registration["seen"])
    plan = hyp.hypothesis.analysis
    per_pred, table, probes, meta = tested(hyp, results, rounds)
    # A diverged run fails the hypothesis unless every prediction reading its condition counts divergence.
    reading: dict[str, list[bool]] = {}
    for pred in hyp.hypothesis.predictions:
        for c in conditions_read(pred, hyp.conditions):
            reading.setdefault(c, []).append(pred.counts_divergence())
    failures = run_failures({c: m for c, m in meta.items() if not (reading.get(c) and all(reading[c]))})

    preds = list(hyp.hypothesis.predictions)
    reduced, tests, data, counts, uncensored, unhealthy = [], {}, {}, {}, {}, {}
    for pred in preds:
        per_unit, optimum_notes, unhealthy[pred.id] = per_pred[pred.id]
        rows, counts[pred.id], notes = tested_rows(pred, hyp, per_unit, plan.failed_runs)
        counts[pred.id]["uncertified"] = len(unhealthy[pred.id])
        notes = optimum_notes + seed_pair_notes(pred, hyp) + notes
        reduced.append(rows)
        data[pred.id] = rows.loc[rows.used, DATA_COLUMNS].reset_index(drop=True)
        uncensored[pred.id] = rows.loc[rows.used & ~rows.censored, DATA_COLUMNS].reset_index(drop=True)
        if hyp.round_count() == 1:
            tests[pred.id] = PREDICTIONS.get(pred.kind).impl(pred, data[pred.id])
            tests[pred.id].notes.extend(notes)
        else:
            tests[pred.id] = notes  # tested below, along the rounds

    k = len(preds)
    paths = sequential.paths(hyp, data, rounds) if hyp.round_count() > 1 else {}
    for pred in preds:
        if pred.id in paths:
            res = sequential.result(pred, paths[pred.id], data[pred.id], hyp)
            tests[pred.id] = res.__class__(**{**res.to_dict(), "notes": res.notes + tests[pred.id]})
    p_adj = adjust([tests[p.id].p for p in preds], plan.correction) if not paths else \
        [min(1.0, k * tests[p.id].p) if k > 1 else tests[p.id].p for p in preds]  # e-values: Bonferroni
    predictions, outcomes = [], {}
    for pred, p_corr in zip(preds, p_adj):
        res = tests[pred.id]
        # Contradicting a prediction is judged on a CI widened for k predictions (Bonferroni), so a
        # hypothesis is falsely refuted with probability at most α, like it is falsely supported;
        # seeds are planned at the same α/k (the strictest step of Holm).
        alpha_k = pred.alpha / k if plan.correction != "none" else pred.alpha
        level = 1 - alpha_k
        if pred.id in paths:  # anytime-valid: decided by e-values, Bonferroni across predictions
            level, judged_ci = res.ci_level, res.ci
            outcome = sequential.outcome(pred, paths[pred.id], sequential.alpha_of(pred, hyp))
        else:
            judged_ci = res.ci if math.isclose(level, res.ci_level) else \
                PREDICTIONS.get(pred.kind).impl(pred, data[pred.id], level).ci
            outcome = pred.outcome(res, p_corr, judged_ci, level)
        n_censored = counts[pred.id]["censored"]
        without = _without_censored(pred, preds, tests, uncensored[pred.id], plan.correction, level) \
            if n_censored and not paths else None
        outcome = judge_censored(outcome, n_censored, counts[pred.id]["used"], pred.max_censored, without)
        outcome = judge_health(outcome, failure_texts(unhealthy[pred.id]), counts[pred.id]["used"])
        outcomes[pred.id] = outcome
        result = TestRecord(**res.to_dict(), p_adjusted=p_corr,
                            correction=plan.correction if k > 1 and not paths else "none",
                            ci_judged=judged_ci, ci_judged_level=level, counts=counts[pred.id],
                            power=None if paths else pred.power(res, data[pred.id], alpha_k))
        predictions.append(PredictionRecord(id=pred.id, kind=pred.kind, spec=pred,
                                            conditions=conditions_read(pred, hyp.conditions),
                                            result=result, outcome=outcome.to_dict(), seen=seen[pred.id]))

    verdict, reasons = decide(outcomes, failures if plan.failed_runs == "invalid" else [])
    record = VerdictRecord(
        id=hyp.id,
        title=hyp.hypothesis.title,
        statement=hyp.hypothesis.statement,
        verdict=verdict,
        post_hoc=registration["status"] == preregistration.POST_HOC,
        reasons=reasons,
        predictions={p.id: p.outcome.status for p in predictions},
        analysis=plan,
        alternatives=judge_alternatives(hyp.hypothesis.alternatives, outcomes,
                                        valid=not (failures and plan.failed_runs == "invalid")),
        refines=hyp.hypothesis.refines,
        spec=hyp.hypothesis,
        failures=failures,
        preregistration=registration,
        power={p.id: p.result.power for p in predictions if p.outcome.status == UNDECIDED and p.result.power},
        runs={c: {"hash": h, **_run_summary(meta[c])} for c, h in hyp.runs.items()},
        probes=[{"id": p.label, "name": p.name, "params": p.model_dump(mode="json", exclude={"id", "name"})}
                for p in hyp.hypothesis.probes],
        provenance=provenance(hyp, meta),
        # The file's name is its digest as the workflow computed it (refute.layout.Layout.plan_file); a plan
        # read back from JSON may hash differently (its `source` keys come back sorted).
        plan=digest,
        sequential=sequential.record(hyp, paths, rounds) if paths else None,
    )
    io.write_parquet(out_dir / OBSERVATIONS, table)
    io.write_parquet(out_dir / PROBE_TABLE, probes)
    io.write_parquet(out_dir / REDUCED, pd.concat(reduced, ignore_index=True)[REDUCED_COLUMNS])
    # verdict.json last: it marks the stage complete and holds the checksums every reader verifies.
    records.write(out_dir, record, predictions)
    return record


def _without_censored(pred, preds: list, tests: dict, rows: pd.DataFrame, correction: str, level: float):
    """The outcome of `pred` on its uncensored runs alone, its p corrected with the others' p as they are."""
    impl = PREDICTIONS.get(pred.kind).impl
    res = impl(pred, rows, level)
    ps = [res.p if p.id == pred.id else tests[p.id].p for p in preds]
    p_corr = adjust(ps, correction)[[p.id for p in preds].index(pred.id)]
    return pred.outcome(res, p_corr, res.ci, level)


def run_failures(meta: dict[str, dict]) -> list[str]:
    out = []
    for cond, seeds in diverged_seeds(meta).items():
        for seed, step in sorted(seeds.items()):
            out.append(f"condition {cond}, seed {seed} diverged (non-finite loss) at step {step}")
    return out


def _run_summary(m: dict) -> dict:
    return {k: m.get(k) for k in ("seeds", "steps", "wall_seconds", "device", "threads", "diverged")}


def provenance(hyp: Plan, meta: dict[str, dict]) -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "hypothesis_file": str(hyp.path),
        "hypothesis_sha256": hyp.file_sha256,
        "packages": versions,
        "code": code_versions(hyp.path),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "devices": sorted({m.get("device", "?") for m in meta.values()}),
        "training_wall_seconds": round(sum(m.get("wall_seconds", 0.0) for m in meta.values()), 2),
        "analysed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
