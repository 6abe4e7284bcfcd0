"""Runs are stored under their hash but named for people: the train log's first line and Snakemake's job
message name the hypotheses and conditions that share the run, and a hypothesis that starts sharing a
finished run does not rerun it."""

import re
import pytest

from conftest import ROOT, refute_cli, write_yaml
from refute.spec.loader import load_hypothesis

pytestmark = pytest.mark.slow


def test_a_shared_run_is_named_by_everyone_sharing_it_and_a_new_sharer_reruns_nothing(tmp_path, tiny):
    alpha = {**tiny, "id": "alpha", "conditions": {"small": {"model.params.width": 16},
                                                   "wide": {"model.params.width": 48}},
             "predictions": [{**tiny["predictions"][0], "condition": "wide"}]}
    beta = {**tiny, "id": "beta", "model": {"name": "mlp", "params": {"width": 48, "d_embed": 8}}}
    write_yaml(tmp_path / "hypotheses/alpha.yaml", alpha)
    write_yaml(tmp_path / "hypotheses/beta.yaml", beta)
    out = refute_cli(tmp_path, "run", "--snakefile", str(ROOT / "Snakefile"), "--progress", "off")
    assert out.returncode == 0, out.stderr[-3000:]
    shared = load_hypothesis(tmp_path / "hypotheses/alpha.yaml").runs["wide"]
    assert shared == load_hypothesis(tmp_path / "hypotheses/beta.yaml").runs["default"]
    assert f"train alpha.wide, beta.default (run {shared};" in out.stdout + out.stderr
    log = (tmp_path / "results/logs/train" / f"{shared}.log").read_text()
    assert log.splitlines()[0] == f"run {shared}: alpha.wide, beta.default"

    # A third hypothesis shares the finished run: its names change, its training does not rerun.
    write_yaml(tmp_path / "hypotheses/gamma.yaml", {**beta, "id": "gamma"})
    dry = refute_cli(tmp_path, "run", "-n", "--snakefile", str(ROOT / "Snakefile"))  # the same interpreter
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert not re.search(r"^train\s+\d+", dry.stdout + dry.stderr, re.M), (dry.stdout + dry.stderr)[-3000:]
