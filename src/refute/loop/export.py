"""Export every analysed hypothesis to the tracking tools researchers already use (`refute export`), from the
tidy tables of refute.loop.collect, so the numbers are the ones the verdicts were decided on.

One tracked run per (hypothesis, condition, seed): the unit a learning curve belongs to. In MLflow each
hypothesis is an experiment (named by its id) and each run carries
- params: the condition's run spec, flattened to dotted names (`train.lr`, `model.params.width`), and the seed;
- metrics: every logged value at its training step (probe summaries as `<probe>/<metric>`, at a site
  `<probe>/<metric>:<site>`: MLflow's keys allow no `@`);
- tags: `refute.hypothesis`, `refute.condition`, `refute.seed`, `refute.run` (the run hash), `refute.verdict`,
  `refute.post_hoc`, and `refute.source` (the sha256 of the verdict record it was exported from).
TensorBoard gets one event-file folder per run, `<dir>/<hypothesis>/<condition>/seed<k>/`: each metric's
scalars by step, and a text summary naming the hypothesis, condition, run hash and verdict.

Exporting again is safe: a run whose verdict record has not changed is left as it is; one whose verdict
record changed (the hypothesis was rerun) is replaced. The libraries are optional (`pip install
'refute[export]'`); without one, a clear ExportError says what to install.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from refute.layout import VERDICT
from refute.loop.collect import Collected, collect, flat

INSTALL = "pip install 'refute[export]'"
FILE_STORE_ENV = "MLFLOW_ALLOW_FILE_STORE"  # MLflow 3 opens a plain folder store only when this is set
TAG = "refute."


class ExportError(Exception):
    """A problem the user can fix (a missing library); printed without a traceback."""


@dataclass(frozen=True)
class TrackedRun:
    """One (hypothesis, condition, seed): its parameters, tags and metric rows (step, metric, value)."""

    hypothesis: str
    condition: str
    seed: int
    params: dict[str, str]
    tags: dict[str, str]
    metrics: pd.DataFrame

    @property
    def name(self) -> str:
        return f"{self.condition}.seed{self.seed}"

    @property
    def key(self) -> str:
        return f"{self.hypothesis}/{self.condition}/{self.seed}"


@dataclass
class Exported:
    """How many tracked runs an export wrote, found unchanged, and replaced (a subset of those written)."""

    written: int = 0
    unchanged: int = 0
    replaced: int = 0


def tracked_runs(results: str | Path, collected: Collected | None = None) -> list[TrackedRun]:
    """Every (hypothesis, condition, seed) of every analysed hypothesis in `results`."""
    c = collected if collected is not None else collect(results)
    if c.metrics.empty:
        return []
    verdicts = c.predictions.groupby("hypothesis").first()
    out = []
    for hid, rows_of in c.metrics.groupby("hypothesis", sort=True):
        specs = condition_params(results, hid)  # from the plan: the wide table has every hypothesis's columns
        v = verdicts.loc[hid] if hid in verdicts.index else None
        source = _source(results, hid)
        for (cond, seed), rows in rows_of.groupby(["condition", "seed"], sort=True):
            tags = {f"{TAG}hypothesis": hid, f"{TAG}condition": cond, f"{TAG}seed": str(int(seed)),
                    f"{TAG}run": str(rows["run"].iloc[0]), f"{TAG}source": source}
            if v is not None:
                tags |= {f"{TAG}verdict": str(v["verdict"]), f"{TAG}post_hoc": str(bool(v["post_hoc"])).lower()}
            metrics = rows[["step", "metric", "value"]].dropna(subset=["value"])
            metrics = metrics.sort_values(["metric", "step"], kind="stable").reset_index(drop=True)
            out.append(TrackedRun(hid, cond, int(seed), {**specs.get(cond, {}), "seed": str(int(seed))}, tags,
                                  metrics))
    return out


def condition_params(results: str | Path, hid: str) -> dict[str, dict[str, str]]:
    """condition → its run spec flattened as refute collect flattens it (seeds left out), each value as text."""
    from refute.stats import records

    plan = records.load(results, hid).plan(results)
    return {cond: {k: v if isinstance(v, str) else json.dumps(v)
                   for k, v in flat(spec.model_dump(mode="json", exclude={"seeds"})).items()}
            for cond, spec in plan.conditions.items()}


# ------------------------------------------------------------------------------------------------- MLflow

def to_mlflow(results: str | Path, store: str, collected: Collected | None = None) -> Exported:
    """Log every tracked run into the MLflow tracking store `store`: a folder (a local file store, made if
    absent, readable offline) or any tracking URI (`sqlite:///mlflow.db`, `http://host:5000`)."""
    client = mlflow_client(store)
    from mlflow.entities import Metric, Param

    done = Exported()
    experiments: dict[str, str] = {}
    for r in tracked_runs(results, collected):
        if r.hypothesis not in experiments:
            found = client.get_experiment_by_name(r.hypothesis)
            experiments[r.hypothesis] = (found.experiment_id if found is not None
                                         else client.create_experiment(r.hypothesis, tags={f"{TAG}hypothesis":
                                                                                           r.hypothesis}))
        exp = experiments[r.hypothesis]
        old = client.search_runs([exp], filter_string=f"tags.`{TAG}key` = '{r.key}'")
        if any(o.data.tags.get(f"{TAG}source") == r.tags[f"{TAG}source"] for o in old):
            done.unchanged += 1
            continue
        for o in old:  # exported from an older verdict record: the hypothesis was analysed again
            client.delete_run(o.info.run_id)
        done.replaced += bool(old)
        run = client.create_run(exp, run_name=r.name, tags={**r.tags, f"{TAG}key": r.key})
        rid = run.info.run_id
        client.log_batch(rid, params=[Param(mlflow_key(k), v) for k, v in sorted(r.params.items())])
        # One timestamp for the whole run: refute records steps, not wall-clock times, per value.
        stamp = run.info.start_time
        metrics = [Metric(mlflow_key(m), float(v), stamp, int(s)) for s, m, v in r.metrics.itertuples(index=False)]
        for i in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics per batch
            client.log_batch(rid, metrics=metrics[i:i + 1000])
        client.set_terminated(rid)
        done.written += 1
    return done


def mlflow_key(name: str) -> str:
    """`name` as MLflow allows a metric or param key (letters, digits, `_ - . / :` and spaces): a probe
    summary at a site, `<probe>/<metric>@<site>`, becomes `<probe>/<metric>:<site>` (not a `/`: the file store
    keeps `<probe>/<metric>` as a file, so it cannot also be a folder); other characters `_`."""
    return re.sub(r"[^\w\-. /:]", "_", name.replace("@", ":"))


def mlflow_client(store: str):
    """An MlflowClient on `store` (a folder or a tracking URI); ExportError when MLflow is not installed."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ExportError(f"--mlflow needs MLflow, which is not installed: {INSTALL} (or pip install "
                          "mlflow-skinny)") from None
    if "://" not in store:
        # A plain folder is MLflow's file store, which MLflow 3 keeps in maintenance mode and opens only when
        # asked to; it is the store that needs no server and no database.
        os.environ.setdefault(FILE_STORE_ENV, "true")
        Path(store).mkdir(parents=True, exist_ok=True)
        store = str(Path(store).resolve())
    return MlflowClient(tracking_uri=store)


# -------------------------------------------------------------------------------------------- TensorBoard

def to_tensorboard(logdir: str | Path, results: str | Path, collected: Collected | None = None) -> Exported:
    """Write one event-file folder per tracked run under `logdir`; `tensorboard --logdir DIR` shows them."""
    writer_class = summary_writer()
    done = Exported()
    for r in tracked_runs(results, collected):
        folder = Path(logdir) / r.hypothesis / r.condition / f"seed{r.seed}"
        stamp = folder / ".refute-source"
        if stamp.is_file() and stamp.read_text() == r.tags[f"{TAG}source"]:
            done.unchanged += 1
            continue
        old = sorted(folder.glob("events.out.tfevents.*"))
        for f in old:  # only the event files refute wrote there: a second set would double every curve
            f.unlink()
        done.replaced += bool(old)
        w = writer_class(log_dir=str(folder))
        try:
            for s, m, v in r.metrics.itertuples(index=False):
                w.add_scalar(m, float(v), int(s))
            w.add_text("refute", "  \n".join(f"{k.removeprefix(TAG)}: {v}" for k, v in r.tags.items()), 0)
        finally:
            w.close()
        stamp.write_text(r.tags[f"{TAG}source"])
        done.written += 1
    return done


def summary_writer():
    """torch's SummaryWriter (it writes TensorBoard's own event format); ExportError without TensorBoard."""
    try:
        import tensorboard  # noqa: F401  (torch's writer needs it)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ExportError(f"--tensorboard needs TensorBoard, which is not installed: {INSTALL} (or pip install "
                          "tensorboard)") from None
    return SummaryWriter


# ------------------------------------------------------------------------------------------------ helpers

def _source(results: str | Path, hid: str) -> str:
    """sha256 of the hypothesis's verdict.json, which itself holds the checksums of every table beside it:
    it changes exactly when the hypothesis is analysed again."""
    import hashlib

    return hashlib.sha256((Path(results) / hid / VERDICT).read_bytes()).hexdigest()
