"""Calibration of the engine's statistics on real training runs (not a unit test).

One seed-batched training job of a tiny MLP on modular addition gives thousands of independent
seeds; each seed's final validation loss is one run value, exactly what a hypothesis's prediction
would test. From that pool:

- A/A comparisons: two groups of different seeds of *identical* training. Every "holds" is a false
  positive; its rate must be at most α plus a binomial margin (the 95% upper quantile of
  Binomial(C, α) / C for C comparisons). Checked for every kind, and for a family of three
  predictions under Holm (the family-wise rate).
- Equivalence at the margin: group a shifted by exactly +margin, so "a ≈ b within ±margin" is false
  at the boundary; its "holds" rate is the TOST's false-positive rate.
- Power at a planted effect: a shift δ chosen so that the power analysis predicts 80% power at the
  n used (from the pool's sd); the observed rejection rate must match the prediction within its
  binomial 95% interval, and the seeds-for-80% planned from each comparison's own variance should
  centre on n.

- Agenda-level error control (`--agenda`, no training): simulated agendas whose held predictions go
  through refute.loop.agenda_fdr exactly as the index sends them (LORD++ in seal order). With every null
  true, and with a share of real effects, the false discovery rate over the repeats must stay at most q;
  beside it, the rate without agenda control (every held prediction counted as a discovery).

At the edges (benchmarks/calibration_edges.py): false REFUTED verdicts when a claim is true at its
least favourable point; how often each kind's 95% CI misses the truth; power laws in both forms, with
and without the lack-of-fit test; runs at a ceiling (exact tests); runs censored at a step budget.

Usage (the committed figures were run with the defaults):
    .venv/bin/python benchmarks/calibration.py                    # 200 comparisons per check (several minutes)
    .venv/bin/python benchmarks/calibration.py --quick            # 20 per check, to calibration_quick.md (CI smoke run)
    .venv/bin/python benchmarks/calibration.py --agenda           # agenda FDR, 1000 simulated agendas (seconds)
    .venv/bin/python benchmarks/calibration.py --agenda --quick   # 200 agendas, for CI
Writes benchmarks/calibration.md and benchmarks/calibration.json (--agenda: calibration_agenda.md and .json).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import TypeAdapter
from scipy import stats

HERE = Path(__file__).resolve().parent


def train_pool(seeds: int, steps: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Final validation and training loss of `seeds` independent seeds of one tiny run spec."""
    import torch

    from refute.spec.schema import RunSpec
    from refute.components import reductions
    from refute.training.loop import fit

    torch.set_num_threads(1)
    run = RunSpec.model_validate({
        "task": {"name": "modular_arithmetic", "params": {"p": 11, "train_fraction": 0.5}},
        "model": {"name": "mlp", "params": {"width": 16, "d_embed": 8}},
        "train": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1, "steps": steps, "eval_every": steps},
        "seeds": seeds,
        "observables": ["loss"],
    })
    t0 = time.perf_counter()
    result = fit(run, log=lambda msg: None)
    wall = time.perf_counter() - t0
    reduce = TypeAdapter(reductions_union()).validate_python({"name": "final"})
    out = {}
    for metric in ("val_loss", "train_loss"):
        sub = result.metrics[result.metrics.metric == metric]
        out[metric] = np.array([reductions.apply(reduce, g.step.to_numpy(), g.value.to_numpy(), steps)
                                for _, g in sub.groupby("seed", sort=True)])
    assert not result.diverged, "the calibration pool must not diverge"
    return out["val_loss"], out["train_loss"], wall


def reductions_union():
    from refute.components.reductions import Reduction

    return Reduction


def prediction(**kw):
    from refute.components.predictions import PredictionSpec

    base = {"id": "p", "metric": "val_loss", "reduce": "final", "alpha": 0.05}
    return TypeAdapter(PredictionSpec).validate_python({**base, **kw})


def table(groups: dict[str, np.ndarray], x: dict[str, float] | None = None, seed_ids: dict[str, list[int]] | None = None,
          role: str = "y") -> pd.DataFrame:
    rows = []
    for c, vs in groups.items():
        for i, v in enumerate(vs):
            rows.append({"condition": c, "seed": (seed_ids or {}).get(c, range(len(vs)))[i], "metric": "val_loss",
                         "role": role, "x": (x or {}).get(c, np.nan), "value": float(v)})
    return pd.DataFrame(rows)


def judge(pred, data: pd.DataFrame, p: float | None = None):
    from refute.components.predictions import PREDICTIONS

    res = PREDICTIONS.get(pred.kind).impl(pred, data)
    return res, pred.outcome(res, res.p if p is None else p, res.ci)


def margin_of(comparisons: int, alpha: float) -> float:
    """The largest false-positive rate consistent with α at 95%: Binomial(C, α)'s 95% quantile / C."""
    return float(stats.binom.ppf(0.95, comparisons, alpha) / comparisons)


def wilson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    return float(ci.low), float(ci.high)


def aa_checks(pool: np.ndarray, other: np.ndarray, C: int, n: int, alpha: float) -> list[dict]:
    """False-positive rates of every kind on A/A data. Each check cuts a fresh permutation of the pool
    into C disjoint blocks of seeds, so its comparisons are independent."""
    from refute.stats.correction import adjust

    sd, mean, median = float(np.std(pool, ddof=1)), float(np.mean(pool)), float(np.median(pool))
    levels = {"l1": 0.01, "l2": 0.02, "l3": 0.04}
    two_sided = {"direction": "two-sided"}
    welch = prediction(kind="compare", conditions=["a", "b"], test="welch", **two_sided)

    def compare(test, direction="two-sided"):
        pred = prediction(kind="compare", conditions=["a", "b"], test=test, direction=direction)
        return lambda s: judge(pred, table({"a": pool[s[:n]], "b": pool[s[n:2 * n]]}))[1].status

    def trend(test):
        pred = prediction(kind="trend", x={"param": "train.lr"}, test=test, **two_sided)

        def check(s):
            groups = {k: pool[s[i * n:(i + 1) * n]] for i, k in enumerate(levels)}
            # mixed: pseudo-seed i is measured at every level (independent runs, so no seed effect);
            # otherwise every point is its own seed.
            ids = {k: list(range(n)) for k in levels} if test == "mixed" else \
                {k: list(range(i * n, (i + 1) * n)) for i, k in enumerate(levels)}
            return judge(pred, table(groups, levels, ids))[1].status
        return check

    def threshold(s):
        pred = prediction(kind="threshold", condition="a", threshold=mean, test="t", **two_sided)
        return judge(pred, table({"a": pool[s[:n]]}))[1].status

    def correlation(s):
        pred = prediction(kind="correlation", x={"metric": "train_loss", "reduce": "final"}, test="spearman",
                          **two_sided)
        # y of one seed against x of another: independent by construction.
        data = pd.concat([table({"a": pool[s[:2 * n]]}), table({"a": other[s[2 * n:4 * n]]}, role="x")])
        return judge(pred, data)[1].status

    def proportion(s):
        pred = prediction(kind="proportion", conditions=["a"], meets={"below": median}, p0=0.5, **two_sided)
        return judge(pred, table({"a": pool[s[:2 * n]]}))[1].status

    def equivalence_at_margin(s):
        m = 0.5 * sd
        pred = prediction(kind="equivalence", conditions=["a", "b"], margin=m)
        return judge(pred, table({"a": pool[s[:n]] + m, "b": pool[s[n:2 * n]]}))[1].status

    def holm_family(s):
        blocks = [(pool[s[2 * i * n:(2 * i + 1) * n]], pool[s[(2 * i + 1) * n:(2 * i + 2) * n]]) for i in range(3)]
        results = [judge(welch, table({"a": a, "b": b}))[0] for a, b in blocks]
        adjusted = adjust([r.p for r in results], "holm")
        return "holds" if any(welch.outcome(r, q, r.ci).status == "holds" for r, q in zip(results, adjusted)) else "-"

    checks = {
        "compare welch, two-sided": compare("welch"),
        "compare welch, greater": compare("welch", "greater"),
        "compare mannwhitney, two-sided": compare("mannwhitney"),
        "compare paired_t, two-sided": compare("paired_t"),
        "compare wilcoxon (paired), two-sided": compare("wilcoxon"),
        "threshold t at the pool mean, two-sided": threshold,
        "trend spearman, 3 levels, two-sided": trend("spearman"),
        "trend ols, 3 levels, two-sided": trend("ols"),
        "trend mixed, seeds at every level, two-sided": trend("mixed"),
        "correlation spearman, two-sided": correlation,
        "proportion below the pool median vs 0.5, two-sided": proportion,
        "equivalence, true difference at the margin": equivalence_at_margin,
        "3 predictions under Holm: any false 'holds'": holm_family,
    }
    block = 6 * n
    if len(pool) < C * block:
        raise SystemExit(f"a pool of {len(pool)} seeds is too small for {C} disjoint blocks of {block}")
    out = []
    for i, (name, check) in enumerate(checks.items()):
        perm = np.random.default_rng(i).permutation(len(pool))
        hits = sum(check(perm[c * block:(c + 1) * block]) == "holds" for c in range(C))
        rate = hits / C
        out.append({"check": name, "comparisons": C, "n": n, "false_holds": int(hits), "rate": rate,
                    "rate_ci95": wilson(int(hits), C), "alpha": alpha, "allowed": margin_of(C, alpha),
                    "pass": rate <= margin_of(C, alpha)})
    return out


def power_checks(pool: np.ndarray, C: int, n: int, alpha: float) -> list[dict]:
    """Observed power at a planted shift against the power analysis."""
    from statsmodels.stats.power import TTestIndPower

    from refute.components.predictions import power as pw

    sd = float(np.std(pool, ddof=1))
    d80 = TTestIndPower().solve_power(nobs1=n, alpha=alpha, power=0.8, alternative="larger")
    shift = float(d80 * sd)
    out = []
    for i, test in enumerate(("welch", "mannwhitney")):
        perm = np.random.default_rng(100 + i).permutation(len(pool))
        pred = prediction(kind="compare", conditions=["a", "b"], test=test, direction="less", min_effect=shift)
        predicted = pw.t_power(shift, sd, n, alpha, "less", 2, test == "mannwhitney")
        rejected, planned = 0, []
        for c in range(C):
            s = perm[c * 2 * n:(c + 1) * 2 * n]  # disjoint seeds for every comparison
            a, b = pool[s[:n]] - shift, pool[s[n:]]  # a's loss lower by δ
            res, _ = judge(pred, table({"a": a, "b": b}))
            rejected += res.p < alpha
            plan = pred.power(res, table({}), alpha)
            if plan and plan["seeds_for_80"]:
                planned.append(plan["seeds_for_80"])
        lo, hi = wilson(rejected, C)
        out.append({"test": test, "comparisons": C, "n": n, "shift": shift, "shift_in_sd": shift / sd,
                    "predicted_power": predicted, "observed_power": rejected / C, "observed_ci95": (lo, hi),
                    "pass": lo <= predicted <= hi, "median_planned_seeds_for_80": float(np.median(planned)),
                    "planned_seeds_iqr": [float(np.percentile(planned, 25)), float(np.percentile(planned, 75))]})
    return out


def write(report: dict, path_md: Path) -> None:
    lines = [
        "# Calibration of refute's statistics",
        "",
        f"Run {report['when']} on {report['platform']}; pool of {report['pool_seeds']} seeds of a tiny MLP on "
        f"(a + b) mod 11 ({report['steps']} AdamW steps, one seed-batched job, {report['train_seconds']:.1f} s to train, "
        f"{report['total_seconds']:.1f} s in all; the machine was shared, so times are rough). Run value: final "
        f"validation loss (sd {report['pool_sd']:.4g} over seeds). α = {report['alpha']}.",
        "",
        "## False positives on A/A comparisons (identical training, different seeds)",
        "",
        "A comparison is a false positive when the prediction *holds*. Allowed: the 95% quantile of "
        "Binomial(comparisons, α) / comparisons.",
        "",
        "| check | comparisons | n per group | false holds | rate | 95% CI | allowed | pass |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["aa"]:
        lines.append(f"| {r['check']} | {r['comparisons']} | {r['n']} | {r['false_holds']} | {r['rate']:.3f} | "
                     f"[{r['rate_ci95'][0]:.3f}, {r['rate_ci95'][1]:.3f}] | {r['allowed']:.3f} | "
                     f"{'✅' if r['pass'] else '❌'} |")
    lines += [
        "",
        "## Power at a planted effect against the power analysis",
        "",
        "Group a's loss lowered by δ, chosen so that the two-sample t power analysis predicts 80% at n "
        "(rank tests: n × 3/π). Observed power: the rejection rate (p < α, one-sided). Planned seeds: the "
        "power analysis each comparison reports from its own variance, at δ.",
        "",
        "| test | comparisons | n per group | δ (in sd) | predicted power | observed power | 95% CI | pass | "
        "planned seeds for 80% (median, IQR) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["power"]:
        lines.append(f"| {r['test']} | {r['comparisons']} | {r['n']} | {r['shift']:.4g} ({r['shift_in_sd']:.2f}) | "
                     f"{r['predicted_power']:.3f} | {r['observed_power']:.3f} | "
                     f"[{r['observed_ci95'][0]:.3f}, {r['observed_ci95'][1]:.3f}] | {'✅' if r['pass'] else '❌'} | "
                     f"{r['median_planned_seeds_for_80']:.0f} ({r['planned_seeds_iqr'][0]:.0f}–"
                     f"{r['planned_seeds_iqr'][1]:.0f}) |")
    for key, title, text in EDGE_SECTIONS:
        lines += ["", f"## {title}", "", text, "",
                  "| check | comparisons | n | count | rate | 95% CI | allowed | pass |", "|---|---|---|---|---|---|---|---|"]
        for r in report[key]:
            allowed = "—" if r["allowed"] is None else f"{r['allowed']:.3f}"
            verdict = "(reported)" if r["allowed"] is None else "✅" if r["pass"] else "❌"
            lines.append(f"| {r['check']} | {r['comparisons']} | {r['n']} | {r['hits']} | {r['rate']:.3f} | "
                         f"[{r['rate_ci95'][0]:.3f}, {r['rate_ci95'][1]:.3f}] | {allowed} | {verdict} |")
    lines.append("")
    path_md.write_text("\n".join(lines))


EDGE_SECTIONS = [
    ("refuted", "False REFUTED: true claims at their least favourable point",
     "The true effect is exactly δ (or exactly 0 inside an equivalence margin of ½ sd), δ = ½ sd of the pool: "
     "a *contradicted* outcome would refute a true claim. Allowed: as above, at α."),
    ("coverage", "CI coverage per kind",
     "A/A data, so the true effect is known (0, or the pool's own mean or pseudo-median): a miss is a 95% CI "
     "that does not contain it. Five times the comparisons of the other checks, and one bound for the 13 CIs "
     "checked (these 11 and the two exponents below): the (1 − 0.05/13) quantile of Binomial(comparisons, "
     "0.05) / comparisons, so that CIs covering at exactly 95% all pass with probability 95% (a per-row 95% "
     "bound fails some exact CI of 13 half the time), while the larger samples make the bound tighter than "
     "the per-row one at 200."),
    ("power_law", "Power laws, pure and saturating",
     "value = f(width)·e^(0.05 z) at 7 widths (16 … 1024), z the pool's standardized run-to-run noise; pure: "
     "f = 3·w^−0.5, saturating: f = 0.4 + 3·w^−0.5. n is runs per width. \"Reported\" rows have no bound: the "
     "power of the lack-of-fit test, and what the pure form said of saturating data before it was checked. The "
     "exponents' CI misses are checked as the CIs above (five times the comparisons, the joint bound)."),
    ("ceiling", "Runs at a ceiling (exact tests)",
     "Each run reaches the ceiling 1.0 with probability ½ and otherwise ends below 0.95 (z > 0 of the pool's "
     "noise, or 0.95 − 0.05|z|): the typical run is on the claim's bound, so \"above 0.95\" holding is a false "
     "positive. Runs with no spread are tested exactly (sign test; permutation test for two groups), and so "
     "are runs stacked at the ceiling (a sign test on the side of 0.95 each run lies); the "
     "reported rows count the samples in which every run is at the ceiling, each of which a t-test's p = 0 "
     "would have held."),
    ("censoring", "Runs censored at a step budget",
     "Steps to an event T = 700·e^(z/2), z the pool's noise, censored at a budget of 1000 (a run that never "
     "reaches it counts as 1000). A/A checks bound the false holds; the planted rows report how often the "
     "censored runs decide a holding outcome (the outcome says so) and how often `max_censored: 0.25` leaves "
     "it undecided."),
]


# ---------------------------------------------------------------- agenda-level false discovery rate

AGENDA_SCENARIOS = [  # (name, predictions per agenda, share of real effects, effect in z units)
    ("all nulls true, 40 predictions", 40, 0.0, 0.0),
    ("all nulls true, 200 predictions", 200, 0.0, 0.0),
    ("20% real effects (z shift 3), 100 predictions", 100, 0.2, 3.0),
    ("50% real effects (z shift 3), 100 predictions", 100, 0.5, 3.0),
]


def simulated_agenda(rng: np.random.Generator, m: int, share: float, shift: float, alpha: float):
    """An agenda as the index sees it: hypotheses of 1–3 predictions sealed one after another (some refining the
    one before), each prediction a one-sided z test that holds when p ≤ α. Returns (entries, which are real)."""
    real = rng.random(m) < share
    z = rng.standard_normal(m) + np.where(real, shift, 0.0)
    p = stats.norm.sf(z)
    entries, i, k = [], 0, 0
    while i < m:
        size = min(int(rng.integers(1, 4)), m - i)
        entries.append({
            "id": f"h{k}", "verdict": "SUPPORTED", "post_hoc": False, "sealed_at": f"2026-01-01T00:00:{k:06d}",
            "refines": f"h{k - 1}" if k and rng.random() < 0.3 else None,
            "predictions": [{"id": f"p{j}", "status": "holds" if p[j] <= alpha else "inconclusive", "p": float(p[j])}
                            for j in range(i, i + size)]})
        i, k = i + size, k + 1
    return entries, real


def agenda_checks(repeats: int, q: float = 0.05, alpha: float = 0.05, seed: int = 0) -> list[dict]:
    """Per scenario: the false discovery rate (mean of V / max(R, 1)) with the agenda's LORD++ and without it."""
    from refute.loop.agenda_fdr import agenda_fdr

    rng = np.random.default_rng(seed)
    rows = []
    for name, m, share, shift in AGENDA_SCENARIOS:
        fdp, naive, power, any_false = [], [], [], 0
        for _ in range(repeats):
            entries, real = simulated_agenda(rng, m, share, shift, alpha)
            result = agenda_fdr(entries, q)
            found = np.array([s.survives for s in result.slots])
            held = np.array([s.held for s in result.slots])
            fdp.append((found & ~real).sum() / max(found.sum(), 1))
            naive.append((held & ~real).sum() / max(held.sum(), 1))
            any_false += bool((found & ~real).any())
            if real.any():
                power.append((found & real).sum() / real.sum())
        est, sd = float(np.mean(fdp)), float(np.std(fdp, ddof=1))
        rows.append({"scenario": name, "repeats": repeats, "predictions": m, "q": q, "fdr": est,
                     "fdr_ci95": [max(0.0, est - 1.96 * sd / np.sqrt(repeats)), est + 1.96 * sd / np.sqrt(repeats)],
                     "any_false_discovery": any_false / repeats, "fdr_without_agenda_control": float(np.mean(naive)),
                     "power": float(np.mean(power)) if power else None, "pass": est <= q})
    return rows


def write_agenda(rows: list[dict], path_md: Path, when: str, seconds: float) -> None:
    lines = [
        "# Calibration of refute's agenda-level error control", "",
        f"Run {when}: {rows[0]['repeats']} simulated agendas per scenario, {seconds:.1f} s "
        "(`benchmarks/calibration.py --agenda`). Each agenda is a stream of hypotheses of 1–3 predictions sealed one "
        "after another (some refining the one before); a prediction is a one-sided z test that holds when p ≤ 0.05. "
        "Held predictions go through `refute.loop.agenda_fdr` as the index sends them (LORD++ in seal order, "
        f"q = {rows[0]['q']:g}). FDR is the mean over agendas of false discoveries / max(discoveries, 1); with every "
        "null true it is the chance of any false discovery.", "",
        "| scenario | agendas | FDR with agenda control | 95% CI | ≤ q | FDR without (held = discovery) | power |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        power = "—" if r["power"] is None else f"{r['power']:.3f}"
        lines.append(f"| {r['scenario']} | {r['repeats']} | {r['fdr']:.3f} | [{r['fdr_ci95'][0]:.3f}, "
                     f"{r['fdr_ci95'][1]:.3f}] | {'✅' if r['pass'] else '❌'} | {r['fdr_without_agenda_control']:.3f} "
                     f"| {power} |")
    lines.append("")
    path_md.write_text("\n".join(lines))


def agenda_main(a) -> int:
    t0 = time.perf_counter()
    rows = agenda_checks(200 if a.quick else a.repeats, a.q, a.alpha)
    out = a.out if a.out != HERE / "calibration.md" else HERE / "calibration_agenda.md"
    write_agenda(rows, out, time.strftime("%Y-%m-%d %H:%M"), time.perf_counter() - t0)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    print(out.read_text())
    return 0 if all(r["pass"] for r in rows) else 1

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agenda", action="store_true", help="only the agenda-level FDR check (simulated, no training)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run (CI): 20 comparisons per check, written to calibration_quick.md; with --agenda, "
                         "200 agendas per scenario")
    ap.add_argument("--repeats", type=int, default=1000, help="with --agenda: simulated agendas per scenario")
    ap.add_argument("--q", type=float, default=0.05, help="with --agenda: the agenda's false discovery rate")
    ap.add_argument("--comparisons", type=int, default=200, help="comparisons per check (≥ 200 for the record)")
    ap.add_argument("--n", type=int, default=6, help="seeds per group")
    ap.add_argument("--steps", type=int, default=300, help="training steps of the pool")
    ap.add_argument("--pool", type=int, default=None, help="seeds trained (default: 6 × n × comparisons)")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--out", type=Path, default=HERE / "calibration.md")
    ap.add_argument("--pool-cache", type=Path, default=None,
                    help="an .npz to read the trained pool from, or to write it to (re-running the checks only)")
    a = ap.parse_args(argv)
    if a.agenda:
        return agenda_main(a)
    if a.quick:
        a.comparisons, a.out = 20, a.out.with_name("calibration_quick.md")
    t0 = time.perf_counter()
    pool = a.pool or 6 * a.n * a.comparisons
    if a.pool_cache and a.pool_cache.exists():
        cached = np.load(a.pool_cache)
        val, train, wall = cached["val"][:pool], cached["train"][:pool], float(cached["wall"])
    else:
        val, train, wall = train_pool(pool, a.steps)
        if a.pool_cache:
            np.savez(a.pool_cache, val=val, train=train, wall=wall)
    from calibration_edges import ceiling_checks, censoring_checks, coverage_checks, power_law_checks, \
        refuted_checks

    C, n = a.comparisons, a.n
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M"), "platform": platform.platform(), "pool_seeds": pool,
        "steps": a.steps, "train_seconds": wall, "alpha": a.alpha, "pool_sd": float(np.std(val, ddof=1)),
        "aa": aa_checks(val, train, C, n, a.alpha),
        "power": power_checks(val, C, n, a.alpha),
        "refuted": refuted_checks(val, C, n, a.alpha),
        "coverage": coverage_checks(val, C, n),
        "power_law": power_law_checks(val, C, 4, a.alpha),
        "ceiling": ceiling_checks(val, C, a.alpha),
        "censoring": censoring_checks(val, C, n, a.alpha),
    }
    report["total_seconds"] = time.perf_counter() - t0
    write(report, a.out)
    a.out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(a.out.read_text())
    failed = [r for key in ("aa", "power", *(k for k, _, _ in EDGE_SECTIONS)) for r in report[key] if not r["pass"]]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
