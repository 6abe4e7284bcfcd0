"""Every analysed hypothesis's results as two tidy tables, for a notebook (`refute.load()`) or a file
(`refute collect`).

- metrics: one row per logged value: hypothesis, condition, run (hash), each condition's run parameters as
  dotted columns (`train.lr`, `model.params.width`, ...), seed, step, metric, value. Read from each
  hypothesis's observations.parquet (probe summaries included, named `<probe>/<metric>`), so the numbers are
  exactly the ones its verdict was decided on.
- predictions: one row per prediction: hypothesis, verdict, post hoc, prediction, kind, outcome, test, p,
  adjusted p, estimate, CI, effect, and the conditions it read.

Only verified records are read (refute.stats.records checks their checksums); a hypothesis without a
verdict is left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from refute.layout import VERDICT
from refute.stats import records

METRICS_FILE, PREDICTIONS_FILE = "all-metrics", "all-predictions"  # in the results folder, + .parquet/.csv
KEY = ["hypothesis", "condition", "run"]
PREDICTION_COLUMNS = ["hypothesis", "verdict", "post_hoc", "prediction", "kind", "outcome", "test", "p",
                      "p_adjusted", "estimate", "ci_low", "ci_high", "effect", "conditions"]


@dataclass
class Collected:
    metrics: pd.DataFrame
    predictions: pd.DataFrame


def flat(data, prefix: str = "") -> dict:
    """Nested run-spec data as dotted scalar columns; a list (observables, sites) as its JSON text."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            out.update(flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: json.dumps(data) if isinstance(data, list) else data}


def analysed_ids(results: str | Path) -> list[str]:
    return sorted(d.name for d in Path(results).iterdir() if (d / VERDICT).is_file()) if Path(results).is_dir() else []


def collect(results: str | Path = "results") -> Collected:
    metric_parts, preds = [], []
    for hid in analysed_ids(results):
        a = records.load(results, hid)
        plan = a.plan(results)
        params = pd.DataFrame([{"condition": c, "run": plan.runs[c],
                                **flat(spec.model_dump(mode="json", exclude={"seeds"}))}
                               for c, spec in plan.conditions.items()])
        obs = a.observations.merge(params, on="condition", how="left")
        obs.insert(0, "hypothesis", hid)
        metric_parts.append(obs)
        v = a.verdict
        for p in a.predictions:
            r = p.result
            preds.append([hid, v.verdict, v.post_hoc, p.id, p.kind, p.outcome.status, r.test, r.p, r.p_adjusted,
                          r.estimate, r.ci[0], r.ci[1], r.effect, ",".join(p.conditions)])
    predictions = pd.DataFrame(preds, columns=PREDICTION_COLUMNS)
    if not metric_parts:
        return Collected(pd.DataFrame(columns=[*KEY, "seed", "step", "metric", "value"]), predictions)
    metrics = pd.concat(metric_parts, ignore_index=True)
    params = sorted(c for c in metrics.columns if c not in {*KEY, "seed", "step", "metric", "value"})
    return Collected(metrics[[*KEY, *params, "seed", "step", "metric", "value"]], predictions)


def write(results: str | Path = "results", fmt: str = "parquet") -> list[Path]:
    """Write both tables into the results folder; return their paths."""
    from refute import io

    c = collect(results)
    out = []
    for name, table in ((METRICS_FILE, c.metrics), (PREDICTIONS_FILE, c.predictions)):
        path = Path(results) / f"{name}.{fmt}"
        if fmt == "parquet":
            io.write_parquet(path, table)
        else:
            io.write_text(path, table.to_csv(index=False))
        out.append(path)
    return out
