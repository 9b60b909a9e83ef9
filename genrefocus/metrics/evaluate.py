"""Benchmark protocol (docs/design.md §6): per-image K search, fidelity / perceptual metrics, LVCorr,
deblurring evaluation, and reports (CSV, markdown table, PNG grids, LVCorr plot).

A *backend* is ``backend(sample, K) -> image (1, 3, H, W)``: it renders the sample's source at the
target focus with bokeh level K (px per unit of the sample's disparity). The K used for the
fidelity metrics is the one maximizing SSIM with the target (the paper's per-image search).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from .calibration import search_k
from ..optics.focus_measure import variance_of_laplacian
from ..optics.render import DEFAULT_MODE, render_bokeh
from .fidelity import psnr, ssim
from .lvcorr import pearson
from .perceptual import LOWER_IS_BETTER, PerceptualMetrics

Backend = Callable[[object, float], torch.Tensor]


def physical_backend(mode: str = DEFAULT_MODE, gamma=4.0, aperture=None) -> Backend:
    """The physical renderer on the source image: ``c = K·(d − d_f)``."""
    def run(sample, K):
        coc = K * (sample.disparity - sample.focus)
        return render_bokeh(sample.source, coc, mode=mode, gamma=gamma, aperture=aperture)
    return run


def generative_backend(pipe, num_inference_steps: int = 28, seed: int = 0, refocus: bool = False) -> Backend:
    """:class:`GenRefocusPipeline` (bokeh on the source, or deblur → bokeh with ``refocus``); the
    disparity is offset to be positive and used as 1/depth (only differences matter)."""
    from ..optics.focus import Focus

    def run(sample, K):
        d = sample.disparity
        off = float(-d.min()) + 0.1
        depth = 1.0 / (d + off)
        kw = dict(K=float(K), num_inference_steps=num_inference_steps, focus=Focus.disparity(sample.focus + off),
                  generator=torch.Generator().manual_seed(seed))
        if refocus:
            return pipe.refocus(sample.source, depth=depth, **kw).image
        return pipe.bokeh(sample.source, depth, **kw).image
    return run


def evaluate(samples: Sequence, backend: Backend, k_range=(0.0, 20.0), grid: int = 9, tol: float = 0.1,
             perceptual: Optional[PerceptualMetrics] = None) -> List[dict]:
    """Per sample: K* (max SSIM), PSNR, SSIM, available perceptual metrics; keeps the output image."""
    rows = []
    for s in samples:
        cache = {}

        def render(k, s=s):
            key = round(k, 6)
            if key not in cache:
                cache[key] = backend(s, k).float().cpu()
            return cache[key]

        cal = search_k(render, s.target.float(), k_range, grid=grid, tol=tol)
        out = render(cal.K)
        row = {"id": s.id, "K": cal.K, "psnr": float(psnr(out, s.target)[0]), "ssim": float(ssim(out, s.target)[0]),
               "output": out}
        if perceptual is not None:
            row.update(perceptual(out, s.target))
        rows.append(row)
    return rows


def lv_curve(backend: Backend, sample, ks: Sequence[float]) -> tuple:
    """LV of ``backend(sample, K)`` over ``ks`` (K = 0 first) and the LVCorr of that sweep."""
    ks = [0.0] + [float(k) for k in ks if float(k) != 0.0]
    lvs = [float(variance_of_laplacian(backend(sample, k))[0]) for k in ks]
    return ks, lvs, pearson(ks, [lvs[0] - v for v in lvs])


def evaluate_deblur(pairs: Sequence[dict], deblur: Callable[[torch.Tensor], torch.Tensor],
                    perceptual: Optional[PerceptualMetrics] = None, load=None) -> List[dict]:
    """DPDD / RealDOF protocol: the output and target quantized to 8 bit, full frame, PSNR and
    skimage-style SSIM (Gaussian, σ 1.5) plus available perceptual metrics."""
    from ..io import load_image

    load = load or load_image
    rows = []
    for p in pairs:
        x, y = load(p["input"]), load(p["target"])
        out = deblur(x).float().cpu().clamp(0, 1)
        q = torch.round(out * 255) / 255
        yq = torch.round(y * 255) / 255
        row = {"id": p["id"], "psnr": float(psnr(q, yq)[0]), "ssim": float(ssim(q, yq)[0]), "output": q}
        if perceptual is not None:
            row.update(perceptual(q, yq))
        rows.append(row)
    return rows


def _mean(rows, key):
    vals = [r[key] for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return float(np.mean(vals)) if vals else None


def write_report(out_dir, results: Dict[str, List[dict]], samples: Optional[Sequence] = None,
                 lv: Optional[Dict[str, tuple]] = None, title: str = "LF-Refocus",
                 unavailable: Optional[Dict[str, str]] = None, max_grid: int = 4) -> Path:
    """``<method>.csv`` per method, ``report.md`` (methods × metrics, arrows as in the paper's
    tables), ``grid.png`` (source | methods | target) and ``lvcorr.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = []
    for rows in results.values():
        for r in rows:
            keys += [k for k in r if k not in ("id", "output") and k not in keys]
    for method, rows in results.items():
        with open(out / f"{method}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["id"] + keys)
            w.writeheader()
            for r in rows:
                w.writerow({k: (f"{r[k]:.6g}" if isinstance(r.get(k), float) else r.get(k, "")) for k in ["id"] + keys})
    metric_cols = [k for k in ("psnr", "ssim", "lpips", "dists", "clip_i", "clipiqa", "musiq", "maniqa") if k in keys or
                   (unavailable and k in unavailable)]
    arrow = {k: ("↓" if k in LOWER_IS_BETTER else "↑") for k in metric_cols}
    lines = [f"# {title}", "", "| method | " + " | ".join(f"{k.upper()} {arrow[k]}" for k in metric_cols) +
             (" | LVCorr ↑ |" if lv else " |"), "|---" * (len(metric_cols) + 1 + (1 if lv else 0)) + "|"]
    for method, rows in results.items():
        cells = []
        for k in metric_cols:
            m = _mean(rows, k)
            cells.append(f"{m:.4f}" if m is not None else "n/a")
        if lv:
            cells.append(f"{lv[method][2]:.4f}" if method in lv else "n/a")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    if unavailable:
        lines += ["", "Not computed here: " + "; ".join(f"{k} ({v})" for k, v in sorted(unavailable.items()))]
    lines += ["", f"K is searched per image to maximize SSIM with the target (as in the paper); {len(next(iter(results.values())))} images."]
    (out / "report.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if samples:
        n = min(max_grid, len(samples))
        cols = 2 + len(results)
        fig, axes = plt.subplots(n, cols, figsize=(2.6 * cols, 2.6 * n), squeeze=False)
        for i in range(n):
            imgs = [("source", samples[i].source)] + [(m, results[m][i]["output"]) for m in results] + \
                   [("target", samples[i].target)]
            for ax, (name, img) in zip(axes[i], imgs):
                ax.imshow(img[0].permute(1, 2, 0).clamp(0, 1).numpy())
                ax.set_title(name if i else name, fontsize=8)
                ax.axis("off")
        fig.tight_layout()
        fig.savefig(out / "grid.png", dpi=80)
        plt.close(fig)
    if lv:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for method, (ks, lvs, corr) in lv.items():
            ax.plot(ks, [lvs[0] - v for v in lvs], marker="o", label=f"{method} (LVCorr {corr:.3f})")
        ax.set_xlabel("K")
        ax.set_ylabel("LV(0) − LV(K)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "lvcorr.png", dpi=90)
        plt.close(fig)
    return out / "report.md"
