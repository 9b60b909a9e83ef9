"""No run loses finished work: a trainer killed (SIGKILL) in the middle of writing a checkpoint, and a
dataset build killed in the middle of writing an image, resume to exactly what an uninterrupted run
gives, with no half-written checkpoint or temporary file left behind."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genrefocus.training.lora import LoRATrainConfig
from genrefocus.training.lora import read_losses, train
from train_fixtures import photo_set, saved_tiny_model

WORKER = Path(__file__).parent / "_fault_worker.py"


def _worker(kind: str, at: int, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": str(torch.get_num_threads())}
    return subprocess.run([sys.executable, str(WORKER), kind, str(at), str(torch.get_num_threads()), *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return saved_tiny_model(tmp_path_factory.mktemp("model"))


@pytest.mark.parametrize("limit", [1, 2])
def test_lora_training_killed_while_checkpointing_resumes_exactly(model, tmp_path, limit):
    manifest = photo_set(tmp_path / "data", n=3, size=32)
    cfg = dict(task="bokeh", model=str(model[0]), prompt_cache=str(model[1]), rank=4, max_steps=6, learning_rate=1e-3,
               gradient_accumulation_steps=1, mixed_precision="no", gradient_checkpointing=False, resolution=32,
               data={"manifest": str(manifest)}, checkpointing_steps=2, checkpoints_total_limit=limit,
               validation_steps=0)
    full = train(LoRATrainConfig(**cfg, output_dir=str(tmp_path / "full")), progress=False)
    run = tmp_path / "run"
    (tmp_path / "cfg.json").write_text(json.dumps({**cfg, "output_dir": str(run)}))
    r = _worker("lora", 4, tmp_path / "cfg.json")
    assert r.returncode == -9, r.stderr[-2000:]  # killed inside checkpoint 4's write
    assert (run / "checkpoint-2" / "step.json").is_file()  # with limit 1 too: pruned only after a complete save
    assert not (run / "checkpoint-4").exists() and (run / ".tmp-checkpoint-4").is_dir()
    assert [s for s in range(1, 5)] == [json.loads(x)["step"] for x in (run / "loss.jsonl").read_text().splitlines()]
    resumed = train(LoRATrainConfig(**cfg, output_dir=str(run), resume_from_checkpoint="latest"), progress=False)
    steps = [json.loads(x)["step"] for x in (run / "loss.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 7))  # steps 3 and 4 were redone, and are logged once
    assert read_losses(run) == read_losses(tmp_path / "full")
    a, b = load_file(str(full)), load_file(str(resumed))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not list(run.glob(".tmp-*"))
    assert len(list(run.glob("checkpoint-*"))) == limit


def test_dp_training_killed_while_checkpointing_resumes_exactly(tmp_path):
    from genrefocus.training.uid import UiDTrainConfig, train_uid

    cfg = dict(steps=6, batch_size=2, size=32, warmup=2, scene_cache=4, log_every=1, checkpointing_steps=2,
               checkpoints_total_limit=1, model={"feat": 4, "cost": 4, "hidden": 4, "n_kernels": 8, "stages": 2})
    full = train_uid(UiDTrainConfig(**cfg, output_dir=str(tmp_path / "full")), progress=False)
    run = tmp_path / "run"
    (tmp_path / "cfg.json").write_text(json.dumps({**cfg, "output_dir": str(run)}))
    r = _worker("dp", 4, tmp_path / "cfg.json")
    assert r.returncode == -9, r.stderr[-2000:]
    assert (run / "checkpoint-2" / "step.json").is_file() and not (run / "checkpoint-4").exists()
    resumed = train_uid(UiDTrainConfig(**cfg, output_dir=str(run), resume_from_checkpoint="latest"), progress=False)
    a, b = load_file(str(full / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    untimed = lambda log: [{k: v for k, v in x.items() if k != "seconds"} for x in log]  # noqa: E731
    log_full = untimed(json.loads((full / "train_log.json").read_text())["log"])
    log_run = untimed(json.loads((run / "train_log.json").read_text())["log"])
    assert [x["step"] for x in log_run] == list(range(6)) and log_run == log_full
    segs = json.loads((run / "train_log.json").read_text())["segments"]  # the killed start, then the resume
    assert [(s["from_step"], s["to_step"]) for s in segs] == [(0, 2), (2, 6)]
    assert [(s["from_step"], s["to_step"]) for s in json.loads((full / "train_log.json").read_text())["segments"]] \
        == [(0, 6)]
    assert not list(run.glob(".tmp-*"))


def test_dataset_build_killed_mid_write_resumes_to_the_same_manifest(tmp_path):
    """The uninterrupted build runs in the same folder first (then moves aside), so the manifests,
    which hold absolute paths, can be compared byte for byte."""
    from genrefocus.data.cli import main
    from genrefocus.io import save_image

    (tmp_path / "img").mkdir()
    (tmp_path / "depth").mkdir()
    for i in range(4):
        g = torch.Generator().manual_seed(i)
        save_image(torch.rand(1, 3, 48, 64, generator=g), tmp_path / "img" / f"p{i}.png")
        np.save(tmp_path / "depth" / f"p{i}.npy", (1 + torch.rand(48, 64, generator=g) * 3).numpy())
    out = tmp_path / "out"
    args = ["synthetic", "--input", str(tmp_path / "img"), "--depth-dir", str(tmp_path / "depth"), "--variants", "2",
            "--k-range", "5,15", "--out", str(out)]
    assert main(args) == 0
    ref = tmp_path / "ref"
    out.rename(ref)
    r = _worker("data", 5, *args)  # dies while writing the 5th image: 2 items done, the 3rd half-way
    assert r.returncode == -9, r.stderr[-2000:]
    assert list(out.rglob(".tmp-*")) and (out / ".genrefocus-data.lock").is_file()  # orphans of the dead run
    assert main(args) == 0  # the stale lock is taken over, the orphans removed, the rest built
    assert (out / "manifest.jsonl").read_bytes() == (ref / "manifest.jsonl").read_bytes()
    assert not list(out.rglob(".tmp-*")) and not (out / ".genrefocus-data.lock").exists()
    for f in sorted((ref / "images").iterdir()):
        assert f.read_bytes() == (out / "images" / f.name).read_bytes()
