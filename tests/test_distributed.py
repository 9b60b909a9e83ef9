"""`genrefocus bokeh` under `accelerate launch --multi_gpu --num_processes 2` (gloo on CPU) writes the
same images as one process: one tiled image (its tiles split across the processes), and folders of 2
and 3 tiled images (the images split, each sampled whole by one process)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import free_port
from tiny_flux import tiny_pipeline, write_official_lora

WORKER = Path(__file__).parent / "_dist_worker.py"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from genrefocus.io import save_image

    d = tmp_path_factory.mktemp("dist")
    pipe = tiny_pipeline()
    pipe.save_pretrained(d / "flux")
    pipe.save_prompt_cache(d / "flux" / "prompts.safetensors")
    write_official_lora(d / "flux" / "bokehNet.safetensors", pipe.transformer, seed=3, scale=0.2)
    for n in (1, 2, 3):
        (d / f"in{n}").mkdir()
        for i in range(n):
            save_image(torch.rand(1, 3, 512, 768, generator=torch.Generator().manual_seed(10 * n + i)),
                       d / f"in{n}" / f"img{i}.png")
    depth = 1.0 + 3.0 * np.linspace(0, 1, 768, dtype=np.float32)[None].repeat(512, 0)
    np.save(d / "depth.npy", depth)
    return d


def _launch(setup, pairs):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [str(x) for pair in pairs for x in pair]
    r = subprocess.run(["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_ip", "127.0.0.1",
                        "--main_process_port", str(free_port()), str(WORKER), str(setup / "flux"),
                        str(setup / "depth.npy"), *args], env=env, timeout=600, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def _one_process(setup, inp, out):
    from genrefocus.cli import main

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rc = main(["bokeh", "--input", str(inp), "--output", str(out), "--model", str(setup / "flux"), "--lora-dir",
                   str(setup / "flux"), "--prompt-cache", str(setup / "flux" / "prompts.safetensors"), "--depth",
                   str(setup / "depth.npy"), "--k_value", "10", "--steps", "2", "--seed", "7"])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0


def _read(p):
    from PIL import Image

    with Image.open(p) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def test_two_processes_write_what_one_process_writes(setup, tmp_path):
    if shutil.which("accelerate") is None:
        pytest.skip("accelerate launcher not installed")
    cases = {n: setup / f"in{n}" / "img0.png" if n == 1 else setup / f"in{n}" for n in (1, 2, 3)}
    pairs = [(inp, tmp_path / (f"two{n}.png" if n == 1 else f"two{n}")) for n, inp in cases.items()]
    stdout = _launch(setup, pairs)  # one launch runs the three commands in turn
    assert stdout.count(".png") == 1 + 2 + 3  # each output printed once, by the main process
    for n, inp in cases.items():
        one = tmp_path / (f"one{n}.png" if n == 1 else f"one{n}")
        _one_process(setup, inp, one)
        two = tmp_path / (f"two{n}.png" if n == 1 else f"two{n}")
        files = [(one, two)] if n == 1 else [(one / f"img{i}.png", two / f"img{i}.png") for i in range(n)]
        for a, b in files:
            assert b.is_file(), b
            assert np.array_equal(_read(a), _read(b)), f"{n} image(s): {b.name} differs from the one-process result"
