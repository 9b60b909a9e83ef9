#!/usr/bin/env python3
"""Evaluate a UiD checkpoint: (a) refocusing exact scene-lab DP pairs to another layer, against the
physical renderer driven by the model's own disparity (CoC ≈ 2.5 × DP disparity for half-disk
apertures); (b) on the real DP captures, whether the disparity is smallest where the image is sharpest.

    python eval/dp_eval.py [--checkpoint genrefocus/weights/uid] [--data ../shared/data/dp_pairs]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.metrics import psnr  # noqa: E402
from genrefocus.models.dp_model import UiDModel, load_dp_pair  # noqa: E402
from genrefocus.optics import local_variance_of_laplacian, make_scene, render_bokeh  # noqa: E402
from genrefocus.pipelines.dual_pixel import DEFAULT_CHECKPOINT  # noqa: E402


def scene_lab_refocus(model, n=8, size=64, seed=100):
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        sc = make_scene((size, size), depths_m=(6.0, 1.2), seed=seed + i, textures=("brick", "coffee"))
        K = float(rng.uniform(3, 6))
        left, right = sc.dual_pixel(K, sc.planes[0].disparity)          # captured focused on the background
        target = sc.render(K, sc.planes[1].disparity)                    # exact: focused on the foreground
        mask = (sc.planes[1].alpha > 0.5)[None].float()
        with torch.no_grad():
            out = model.refocus(left, right, mask)
        disp = out["disparity"]
        d_f = float((disp * mask).sum() / mask.sum())
        phys = render_bokeh(out["aif"].clamp(0, 1), 2.5 * (disp - d_f), mode="layered")
        rows.append({"uid_psnr": float(psnr(out["refocused"].clamp(0, 1), target)[0]),
                     "physical_psnr": float(psnr(phys, target)[0])})
    return rows


def dp_sign(model, data: Path, size=(192, 256)):
    res = {}
    for f in sorted(data.glob("*.gif")):
        left, right = load_dp_pair(f)
        left, right = (F.interpolate(x, size=size, mode="area") for x in (left, right))
        with torch.no_grad():
            disp = model(left, right)["disparity"][0, 0]
        lv = local_variance_of_laplacian((left + right) / 2)[0, 0]
        sharp, blur = lv > lv.quantile(0.8), lv < lv.quantile(0.2)
        res[f.name] = {"|disp| sharp 20%": float(disp[sharp].abs().mean()),
                       "|disp| blurry 20%": float(disp[blur].abs().mean()),
                       "mean disp blurry": float(disp[blur].mean())}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "dp_pairs"))
    args = ap.parse_args()
    model = UiDModel.from_pretrained(args.checkpoint)
    rows = scene_lab_refocus(model)
    u, p = np.mean([r["uid_psnr"] for r in rows]), np.mean([r["physical_psnr"] for r in rows])
    print(f"scene-lab refocus to the foreground layer (8 pairs): UiD {u:.2f} dB, physical(model disparity) {p:.2f} dB")
    sign = dp_sign(model, Path(args.data)) if Path(args.data).is_dir() else {}
    for k, v in sign.items():
        print(k, json.dumps({a: round(b, 3) for a, b in v.items()}))


if __name__ == "__main__":
    main()
