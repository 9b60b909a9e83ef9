"""The issue-13 examples that are not a one-line exit 2: runaway CoC radii, id collisions, builds where
every item fails, unwritable folders, broken metadata, config problems listed at once, and a quiet
start of every command."""

import io
import json
import os
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
import torch
from PIL import Image

from genrefocus.errors import InputError
from genrefocus.io import save_image


def _run(main, argv):
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def photo_and_depth(tmp_path):
    save_image(torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0)), tmp_path / "p.png")
    np.save(tmp_path / "d.npy", np.linspace(1, 4, 48 * 64, dtype=np.float32).reshape(48, 64))
    return tmp_path


@pytest.mark.parametrize("extra,refused", [(["--focus-disparity", "1e9"], "lies outside the map's range"),
                                           (["--K", "900"], "more than 10×"), (["--K", "30"], None)])
def test_runaway_coc_is_refused_and_a_moderate_one_clamped(photo_and_depth, extra, refused):
    """--focus-disparity 1e9 used to loop for ever in the radius binning; a micrometre depth asked for
    terabytes. Both are refused in one line now (the focus outside the map's range, a CoC more than 10× the
    largest renderable radius: wrong units); a CoC a few times too large is capped at a quarter of the long
    side (16 px here), with a warning, and the render finishes."""
    from genrefocus.cli import main

    d = photo_and_depth
    np.save(d / "um.npy", np.linspace(1e-6, 4e-6, 48 * 64, dtype=np.float32).reshape(48, 64))  # micrometres
    np.save(d / "near.npy", np.linspace(0.3, 1.2, 48 * 64, dtype=np.float32).reshape(48, 64))  # 0.8–3.3 1/m
    depth = {"900": "um.npy", "30": "near.npy"}.get(extra[1], "d.npy")
    t0 = time.perf_counter()
    rc, _, err = _run(main, ["render", str(d / "p.png"), "--depth", str(d / depth), "-o", str(d / "o.png"), *extra])
    assert time.perf_counter() - t0 < 60 and "Traceback" not in err
    if refused:
        assert rc == 2 and refused in err and len(err.strip().splitlines()) == 1 and not (d / "o.png").exists()
    else:
        assert rc == 0 and "clamped to 16 px" in err
        assert Image.open(d / "o.png").size == (64, 48)


def test_render_coc_cap_in_the_library():
    from genrefocus.optics.render import MAX_COC_FRACTION, render_bokeh

    img = torch.rand(1, 3, 32, 48)
    with pytest.warns(UserWarning, match="clamped"):
        out = render_bokeh(img, torch.full((1, 1, 32, 48), 3 * MAX_COC_FRACTION * 48))
    with pytest.raises(InputError, match="units"):
        render_bokeh(img, torch.full((1, 1, 32, 48), 1e12))
    capped = render_bokeh(img, torch.full((1, 1, 32, 48), MAX_COC_FRACTION * 48))
    assert torch.allclose(out, capped)
    with pytest.raises(InputError, match="NaN"):
        render_bokeh(img, torch.full((1, 1, 32, 48), float("nan")))


def test_colliding_item_ids_get_distinct_ids(tmp_path):
    """coffee.png / coffee.jpg and a/b__c.png / a__b/c.png used to share an id, one overwriting the other."""
    from genrefocus.data.cli import main
    from genrefocus.data.manifest import read_jsonl

    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a__b").mkdir()
    (tmp_path / "depth").mkdir()
    for i, rel in enumerate(["coffee.png", "coffee.jpg", "a/b__c.png", "a__b/c.png"]):
        save_image(torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(i)), src / rel)
    rc, _, err = _run(main, ["filter-sharp", "--input", str(src), "--top", "10", "--out", str(tmp_path / "out")])
    assert rc == 0, err
    recs = read_jsonl(tmp_path / "out" / "manifest.jsonl")
    assert len(recs) == 4 and len({r["id"] for r in recs}) == 4
    assert sorted(r["image"] for r in recs) == sorted(str(src / x) for x in ["coffee.png", "coffee.jpg", "a/b__c.png",
                                                                              "a__b/c.png"])


def test_a_build_where_every_item_fails_exits_1(tmp_path):
    """Used to exit 0 with an empty manifest."""
    from genrefocus.data.cli import main

    (tmp_path / "img").mkdir()
    save_image(torch.rand(1, 3, 32, 48), tmp_path / "img" / "a.png")
    (tmp_path / "img" / "b.png").write_bytes(b"broken")
    rc, _, err = _run(main, ["synthetic", "--input", str(tmp_path / "img"), "--out", str(tmp_path / "out")])
    assert rc == 1 and "no item gave a record (failed 1, skipped 1)" in err  # a: no depth, b: unreadable
    reasons = [json.loads(x)["reason"] for x in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert len(reasons) == 2


def test_broken_metadata_does_not_abort_filter_sharp(tmp_path):
    from genrefocus.data.cli import main
    from genrefocus.data.manifest import read_jsonl

    rb = tmp_path / "rb" / "train"
    for sid in ("s1", "s2"):
        (rb / "gt" / sid).mkdir(parents=True, exist_ok=True)
        (rb / "in").mkdir(exist_ok=True)
        (rb / "metadata").mkdir(exist_ok=True)
        save_image(torch.rand(1, 3, 32, 48), rb / "in" / f"{sid}_f22.JPG")
        save_image(torch.rand(1, 3, 32, 48), rb / "gt" / sid / f"{sid}_f2.0.JPG")
    (rb / "metadata" / "s1.json").write_text("{ not json")
    (rb / "metadata" / "s2.json").write_text(json.dumps({"lens": "50mm"}))
    rc, _, err = _run(main, ["filter-sharp", "--source", "realbokeh", "--input", str(tmp_path / "rb"), "--split", "train",
                             "--top", "5", "--out", str(tmp_path / "out")])
    assert rc == 0, err
    assert len(read_jsonl(tmp_path / "out" / "manifest.jsonl")) == 2


def test_unwritable_output_folder_is_reported_before_work(tmp_path, monkeypatch):
    """As root, permissions do not stop writes, so the check is exercised through os.access."""
    from genrefocus.cli import main

    save_image(torch.rand(1, 3, 32, 48), tmp_path / "p.png")
    np.save(tmp_path / "d.npy", np.ones((32, 48), np.float32))
    (tmp_path / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path / "ro") else real(p, mode))
    rc, _, err = _run(main, ["render", str(tmp_path / "p.png"), "--depth", str(tmp_path / "d.npy"), "-o",
                             str(tmp_path / "ro" / "o.png")])
    assert rc == 2 and "not writable" in err and len(err.strip().splitlines()) == 1


def test_a_config_lists_every_problem_at_once(tmp_path):
    from genrefocus.training.config import load_config
    from genrefocus.training.lora import LoRATrainConfig

    (tmp_path / "c.yaml").write_text("task: paint\nrank: 0\nlearning_rate: -1\ngradient_accumulation_steps: 0\n"
                                     "colour: red\ndata: {}\n")
    with pytest.raises(InputError) as e:
        load_config(LoRATrainConfig, tmp_path / "c.yaml")
    for what in ("task", "rank", "learning_rate", "gradient_accumulation_steps", "colour", "data"):
        assert what in str(e.value)


def test_commands_start_quietly(tmp_path):
    """No third-party chatter (torchao kernels, torch pytree notes, transformers notices) at start: a
    generative command that imports diffusers and stops at a missing LoRA prints one line; a render
    prints only its own result line and progress."""
    save_image(torch.rand(1, 3, 32, 48), tmp_path / "p.png")
    np.save(tmp_path / "d.npy", np.linspace(1, 3, 32 * 48, dtype=np.float32).reshape(32, 48))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("HF_HUB_OFFLINE", None)
    cmd = [sys.executable, "-m", "genrefocus.cli"]
    r = subprocess.run(cmd + ["deblur", "--input", str(tmp_path / "p.png"), "--output", str(tmp_path / "o.png"),
                              "--lora-dir", str(tmp_path / "none")], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2
    assert [x for x in r.stderr.splitlines() if x.strip()] == [r.stderr.strip()]
    assert r.stderr.startswith("genrefocus: error:") and "deblurNet.safetensors" in r.stderr
    r = subprocess.run(cmd + ["render", str(tmp_path / "p.png"), "--depth", str(tmp_path / "d.npy"), "-o",
                              str(tmp_path / "r.png")], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    for noise in ("torchao", "_pytree", "W12", "Warning", "warn", "transformers"):
        assert noise not in r.stderr, r.stderr
