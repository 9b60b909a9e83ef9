"""Benchmarks: LF ground truth, per-image K search, reports; deblurring protocol; perceptual metrics offline."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genrefocus.data.lf_bench import build_samples, scene_lab_light_fields
from genrefocus.metrics.evaluate import evaluate, evaluate_deblur, physical_backend
from genrefocus.metrics.perceptual import MetricUnavailable, PerceptualMetrics, create_metric

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def samples():
    return build_samples(scene_lab_light_fields(2, (64, 64)), kind="refocus", per_lf=2)


def test_lf_samples(samples):
    assert len(samples) == 4
    for s in samples:
        assert s.source.shape == s.target.shape == (1, 3, 64, 64) and s.disparity.shape == (1, 1, 64, 64)
        lo, hi = np.percentile(s.disparity.numpy(), [5, 95])
        assert lo <= s.focus <= hi and abs(s.source_focus - s.focus) >= 0.2 * (hi - lo)
    bokeh = build_samples(scene_lab_light_fields(1, (64, 64)), kind="bokeh", per_lf=1)[0]
    assert bokeh.source_focus is None


def test_k_search_finds_the_k_used_to_make_a_target(samples):
    backend = physical_backend()
    for s, k0 in zip(samples[:3], (3.0, 7.5, 12.0)):
        s.target = backend(s, k0)
    rows = evaluate(samples[:3], backend, k_range=(0.0, 20.0))
    for r, k0 in zip(rows, (3.0, 7.5, 12.0)):
        assert abs(r["K"] - k0) / k0 < 0.02 and r["ssim"] > 0.999


def test_synthetic_lf_refocus_end_to_end_physical_and_generative(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, str(ROOT / "eval" / "bench_lf.py"), "--synthetic", "--n-scenes", "1",
                        "--per-scene", "2", "--size", "64", "--tiny-generative", "--perceptual", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    report = (tmp_path / "report.md").read_text()
    for m in ("physical-fast", "physical-layered", "generative"):
        assert f"| {m} |" in report and (tmp_path / f"{m}.csv").is_file()
    assert "LVCorr" in report and "n/a" in report  # perceptual metrics are offline here: reported as such
    assert (tmp_path / "grid.png").is_file() and (tmp_path / "lvcorr.png").is_file()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert all(0 < v["ssim"] <= 1 for v in summary.values())


def test_deblur_protocol_matches_skimage(tmp_path):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from genrefocus.data import readers
    from genrefocus.io import load_image

    d = tmp_path / "RealDOF"
    rng = np.random.default_rng(0)
    for i in range(2):
        (d / "source").mkdir(parents=True, exist_ok=True)
        (d / "target").mkdir(parents=True, exist_ok=True)
        t = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
        s = np.clip(t.astype(int) + rng.integers(-20, 20, t.shape), 0, 255).astype(np.uint8)
        Image.fromarray(s).save(d / "source" / f"{i}.png")
        Image.fromarray(t).save(d / "target" / f"{i}.png")
    rows = evaluate_deblur(list(readers.realdof(d)), lambda x: x)
    for i, r in enumerate(rows):
        s = load_image(d / "source" / f"{i}.png")[0].numpy()
        t = load_image(d / "target" / f"{i}.png")[0].numpy()
        assert r["psnr"] == pytest.approx(peak_signal_noise_ratio(t, s, data_range=1.0), abs=1e-4)
        want = structural_similarity(t, s, channel_axis=0, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
        assert r["ssim"] == pytest.approx(want, abs=1e-4)
    r = subprocess.run([sys.executable, str(ROOT / "eval" / "bench_deblur.py"), "--dataset", "realdof", "--root", str(d),
                        "--out", str(tmp_path / "rep")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| identity |" in (tmp_path / "rep" / "report.md").read_text()


def test_perceptual_metrics_offline_give_reasons():
    import time

    t0 = time.perf_counter()
    pm = PerceptualMetrics()
    assert time.perf_counter() - t0 < 30  # no network retries for weights that are not cached
    assert set(pm.metrics) | set(pm.unavailable) == {"lpips", "dists", "clip_i", "clipiqa", "musiq", "maniqa"}
    for name, why in pm.unavailable.items():
        assert "not installed" in why or "weights not cached" in why
    with pytest.raises(MetricUnavailable, match="clip_i"):
        create_metric("clip_i")
    out = pm(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
    assert set(out) == set(pm.metrics)  # only what can run is reported; the rest are listed with reasons
