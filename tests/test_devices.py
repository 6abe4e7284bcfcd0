"""Devices: auto takes a GPU only when the job has one, cuda fails loudly without one, and a run's numbers
do not depend on the device (nor does its hash)."""

import json

import pandas as pd
import pytest
import torch

from conftest import write_yaml
from refute.scaling import devices
from refute.training.job import train_run
from refute.spec.loader import load_hypothesis
from refute.training.loop import fit
from test_train import run_spec

HAS_CUDA = torch.cuda.is_available()


def test_auto_takes_a_gpu_exactly_when_one_is_visible():
    assert devices.resolve("auto", cuda_available=True) == "cuda"
    assert devices.resolve("auto", cuda_available=False) == "cpu"


def test_cpu_never_uses_a_gpu():
    assert devices.resolve("cpu", cuda_available=True) == "cpu"


def test_cuda_without_a_gpu_fails_and_says_why():
    assert devices.resolve("cuda", cuda_available=True) == "cuda"
    with pytest.raises(devices.DeviceUnavailable, match="asks for device 'cuda' but torch sees no GPU"):
        devices.resolve("cuda", cuda_available=False)


def test_an_unknown_device_is_an_error():
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        devices.resolve("tpu")


def test_auto_on_this_host_follows_torch():
    assert devices.resolve("auto") == ("cuda" if HAS_CUDA else "cpu")


def test_the_device_request_does_not_change_the_run_hash(tmp_path, tiny):
    hashes = set()
    for device in ("auto", "cpu", "cuda"):
        write_yaml(tmp_path / f"{device}.yaml", {**tiny, "compute": {"device": device}})
        hashes.add(load_hypothesis(tmp_path / f"{device}.yaml").runs["default"])
    assert len(hashes) == 1


def test_a_bad_device_in_a_hypothesis_names_the_field(tmp_path, tiny):
    from refute.spec.errors import SpecError

    write_yaml(tmp_path / "h.yaml", {**tiny, "compute": {"device": "gpu"}})
    with pytest.raises(SpecError, match=r"h.yaml:\d+: compute.device"):
        load_hypothesis(tmp_path / "h.yaml")


def _spec_file(tmp_path, seeds=(0, 1)):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(run_spec(list(seeds)).model_dump(mode="json")))
    return path


def test_a_training_job_records_where_it_ran(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    record = train_run(_spec_file(tmp_path), tmp_path / "out", device="cpu")
    assert record["device"] == "cpu" and record["slurm_job_id"] == "4242"
    assert json.loads((tmp_path / "out" / "run.json").read_text())["device"] == "cpu"


@pytest.mark.skipif(HAS_CUDA, reason="this host has a GPU; the no-GPU failure cannot be shown here")
def test_a_cuda_job_on_a_host_without_a_gpu_fails_before_writing_anything(tmp_path):
    with pytest.raises(devices.DeviceUnavailable):
        train_run(_spec_file(tmp_path), tmp_path / "out", device="cuda")
    assert not (tmp_path / "out").exists()


def test_training_on_an_explicit_cpu_device_is_the_default_path():
    default = fit(run_spec([0, 1], batch_size=8), log=lambda m: None)
    explicit = fit(run_spec([0, 1], batch_size=8), log=lambda m: None, device="cpu")
    pd.testing.assert_frame_equal(default.metrics, explicit.metrics, check_exact=True)
    assert explicit.device == "cpu"


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU on this host (CI and the dev machines have none)")
@pytest.mark.parametrize("batch_size", ["full", 8])
def test_training_on_the_gpu_matches_the_cpu(batch_size):
    cpu = fit(run_spec([0, 1, 2], batch_size=batch_size), log=lambda m: None, device="cpu")
    gpu = fit(run_spec([0, 1, 2], batch_size=batch_size), log=lambda m: None, device="cuda")
    assert gpu.device == "cuda"
    smooth = ~cpu.metrics.metric.str.endswith("_acc")
    pd.testing.assert_frame_equal(gpu.metrics[smooth], cpu.metrics[smooth], check_exact=False, rtol=1e-4, atol=1e-5)
    # An accuracy may flip one example where two logits are within rounding of each other.
    assert (gpu.metrics.value[~smooth] - cpu.metrics.value[~smooth]).abs().max() <= 0.05
    for k, v in cpu.state.items():
        assert gpu.state[k].device.type == "cpu"
        torch.testing.assert_close(gpu.state[k], v, rtol=1e-4, atol=1e-5)


def test_the_readme_compute_block_is_valid(tmp_path, tiny):
    import yaml

    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    block = readme.split("**GPU.**")[1].split("```yaml\n")[1].split("```")[0]
    h = load_hypothesis(write_yaml(tmp_path / "h.yaml", {**tiny, **yaml.safe_load(block)}))
    assert h.hypothesis.compute.device == "auto" and h.hypothesis.compute.seeds_per_job == "all"
