"""Two processes under `accelerate launch` (torchrun launcher; gloo without CUDA) give the same images
as one process: tiles of one image split across processes, and a list of images split."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import free_port
from tiny_flux import tiny_transformer, write_official_lora

WORKER = Path(__file__).parent / "_dist_worker.py"


def test_two_processes_match_one(tmp_path):
    if shutil.which("accelerate") is None:
        pytest.skip("accelerate launcher not installed")
    lora = tmp_path / "b.safetensors"
    write_official_lora(lora, tiny_transformer(), seed=3, scale=0.2)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, str(WORKER), str(tmp_path / "one.pt"), str(lora)], check=True, env=env,
                   timeout=300)
    r = subprocess.run(["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_ip", "127.0.0.1",
                        "--main_process_port", str(free_port()), str(WORKER), str(tmp_path / "two.pt"), str(lora)],
                       env=env, timeout=600, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert one["world"] == 1 and two["world"] == 2
    assert (one["tiled"] - two["tiled"]).abs().max() <= 1e-6
    assert [i for i, _ in two["batch"]] == [0, 1, 2, 3]
    for (i, a), (j, b) in zip(one["batch"], two["batch"]):
        assert i == j and (a - b).abs().max() <= 1e-6
