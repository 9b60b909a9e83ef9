#!/usr/bin/env python3
"""Evaluate the dual-pixel backend: the learned model (the shipped DPDeblurNet, or any checkpoint), the legacy UiD
model and the classical baseline.

Parts (``--parts``, default all):

* ``validation`` — the six real Canon scenes (``canon_00..05`` with ``canon_res_00..05``, top 50 rows
  out): PSNR / SSIM / detail (Laplacian variance over the input's) of the all-in-focus image of the input,
  the mean of the two views, unsharp masking, the classical baseline, the legacy UiD checkpoint, the model
  under test and DPDNet (frame 1) against the f/22 ground truth; the model's gain over the mean of the views;
  a PNG contact sheet of crops.
* ``signs`` — every real pair: the split axis found (``auto``), and the model's disparity sign against
  OpenCV SGBM on that axis, as given (with and without the pipeline's textureless fill) and with the
  views swapped (it must flip); a PNG of the disparity maps.
* ``relation`` — the real camera's DP disparity per blur radius: SGBM |d| against the disk radius that
  turns the f/22 ground truth into the capture, per 48-px block of the six Canon scenes, next to what
  the synthesis assumes (PNG scatter plot); and which PSF family (flat disk, soft-edged disk, Abuolaim et al.'s
  rim-bright lens PSF, Gaussian) best explains the real blur.
* ``resynthesis`` — where the learned model's gain on real captures is lost: each Canon scene's synthetic
  twin (its f/22 truth through the training synthesis with the real capture's per-block blur radius and
  disparity sign) next to the real pair; the model's gain over the mean of the views on both, and a Wiener
  deconvolution given the per-block radius (an oracle: the radius comes from the ground truth) on both (PNG);
  the same by blur radius, with the fine detail the views keep at each radius.
* ``scene_lab`` — exact scene-lab DP pairs refocused to the foreground: the model's refocus (UiD:
  Eq. 13; DPDeblurNet: the capture itself where the target is blurrier, its AIF where sharper) vs the
  physical renderer driven by the model's own AIF and disparity; PNG of four pairs.
* ``synthetic`` — in-distribution strength: one-plane synthetic DP pairs (flat disk, τ = 0.75 — the real
  camera's 0.34 disparity per blur radius —, mild noise) of photos the trainer never uses, per CoC radius:
  the model's gain over the mean of the views next to a Wiener deconvolution given the true kernel (PNG).
* ``memory`` — peak RAM and time of a 1680×1120 pair (``canon_00`` upsampled ×2), each run in a fresh
  process: UiD whole-image (the baseline), UiD tiled, classical, the model under test (all-in-focus, and
  a whole refocus to the centre point).

    python eval/dp_eval.py [--checkpoint FOLDER] [--data ../shared/data/dp_pairs] [--out out/dp_eval]

Each part rewrites its table in docs/benchmarks.md.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import (crop_contact_sheet, machine, markdown_table, save_figure, this_command,  # noqa: E402
                                  update_doc_table)

PARTS = ("validation", "signs", "relation", "resynthesis", "scene_lab", "synthetic", "memory")


def build_parser():
    ap = ArgumentParser(prog="dp_eval", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="learned DP checkpoint under test (UiD or DPDeblurNet; "
                                                         "default: the one genrefocus ships)")
    ap.add_argument("--uid-checkpoint", default=str(ROOT / "genrefocus" / "weights" / "uid"),
                    help="the legacy UiD checkpoint shown beside it")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "dp_pairs"))
    ap.add_argument("--out", default="out/dp_eval")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated: {', '.join(PARTS)}")
    ap.add_argument("--n", type=int, default=8, help="scene-lab pairs; synthetic pairs per CoC radius")
    ap.add_argument("--tile", type=int, default=320, help="tile side (px) of the learned models")
    return ap


def validation(args, pipe, uid, classical, out: Path) -> dict:
    from genrefocus.metrics.dual_pixel import dp_validation
    from genrefocus.optics.dp_classical import unsharp_mask

    methods = {"views_mean": lambda l, r: (l + r) / 2,
               "unsharp": lambda l, r: unsharp_mask((l + r) / 2),
               "classical": lambda l, r: classical.all_in_focus(l, r).aif,
               "uid": lambda l, r: uid.all_in_focus(l, r).aif,
               "model": lambda l, r: pipe.all_in_focus(l, r).aif}
    rows, images = dp_validation(args.data, methods)
    names = ["input", "views_mean", "unsharp", "classical", "uid", "model", "dpdnet"]
    print(f"{'scene':10s} " + " ".join(f"{n:>20s}" for n in names) + "   (PSNR dB / SSIM / detail vs f/22 ground truth)")
    for r in rows:
        print(f"{r['scene']:10s} " + " ".join(f"{r[n]['psnr']:7.2f} / {r[n]['ssim']:.3f} / {r[n]['detail']:.2f}"
                                              for n in names) + f"   gt detail {r['gt']['detail']:.2f}")
    mean = {n: {k: float(np.mean([r[n][k] for r in rows])) for k in ("psnr", "ssim", "detail")} for n in names}
    print(f"{'mean':10s} " + " ".join(f"{mean[n]['psnr']:7.2f} / {mean[n]['ssim']:.3f} / {mean[n]['detail']:.2f}"
                                      for n in names))
    print("grid (checkerboard energy over the input's, mean): " + " ".join(
        f"{n} {np.mean([r[n]['grid'] for r in rows]):.2f}" for n in names + ["gt"]))
    gain = [r["model"]["psnr"] - r["views_mean"]["psnr"] for r in rows]
    print(f"model − mean of the views: " + " ".join(f"{g:+.2f}" for g in gain) + f" (mean {np.mean(gain):+.2f} dB)")
    crop_contact_sheet(images, names + ["gt"], out / "dp_validation.png",
                       "real Canon DP validation scenes: crops at the sharpest ground-truth detail")
    heads = {"input": "input", "views_mean": "mean of the views", "unsharp": "unsharp mask", "classical": "classical",
             "uid": "UiD (legacy)", "model": "**DPDeblurNet**", "dpdnet": "DPDNet (real data)"}
    cell = lambda d, n: f"{d[n]['psnr']:.2f} / {d[n]['ssim']:.3f} / {d[n]['detail']:.2f}"  # noqa: E731
    table = markdown_table(["scene", *[heads[n] for n in names], "gain over the mean of the views", "ground-truth detail"],
                           [[r["scene"], *[cell(r, n) for n in names], f"{g:+.2f}", f"{r['gt']['detail']:.2f}"]
                            for r, g in zip(rows, gain)] +
                           [["**mean**", *[cell(mean, n) for n in names], f"**{np.mean(gain):+.2f}**",
                             f"{np.mean([r['gt']['detail'] for r in rows]):.2f}"]])
    update_doc_table("dp_validation", "PSNR dB / SSIM / detail (variance of the Laplacian over the input's)\n\n" + table,
                     this_command("validation"))
    return {"rows": rows, "mean": mean, "gain_over_views_mean": gain}


def signs(args, pipe, out: Path) -> dict:
    from dataclasses import replace

    from genrefocus.io import load_dp_pair
    from genrefocus.optics.dp_disparity import (detect_dp_axis, disparity_to_rgb, sgbm_disparity, sign_agreement,
                                                to_horizontal)
    from genrefocus.pipelines.dual_pixel import DualPixelPipeline

    raw = DualPixelPipeline(pipe.model, options=replace(pipe.options, fill_disparity=False))
    sheet = []

    res = {}
    for f in sorted(Path(args.data).glob("*.gif")):
        if f.name.startswith("canon_res"):
            continue
        left, right = load_dp_pair(f)
        axis = detect_dp_axis(left, right)
        lh, rh = to_horizontal(left, axis.axis), to_horizontal(right, axis.axis)
        ref, valid = sgbm_disparity(lh, rh, max_disp=16)
        given = to_horizontal(pipe.all_in_focus(left, right).disparity, axis.axis)
        swapped = to_horizontal(pipe.all_in_focus(right, left).disparity, axis.axis)
        unfilled = to_horizontal(raw.all_in_focus(left, right).disparity, axis.axis)
        res[f.stem] = {"axis": axis.axis, "axis_evidence": str(axis),
                       "sign_agreement": sign_agreement(given, ref, valid),
                       "sign_agreement_swapped_views": sign_agreement(swapped, ref, valid),
                       "sign_agreement_without_fill": sign_agreement(unfilled, ref, valid)}
        sheet.append((f.stem, [to_horizontal((left + right) / 2, axis.axis)] + [disparity_to_rgb(d, 3.0) for d in
                     (torch.where(valid, ref, torch.zeros_like(ref)), unfilled, given)]))
        print(f"{f.stem}: split {axis}; model's sign agreement with SGBM {res[f.stem]['sign_agreement']:.2f} "
              f"({res[f.stem]['sign_agreement_without_fill']:.2f} without the textureless fill), views swapped "
              f"{res[f.stem]['sign_agreement_swapped_views']:.2f} (a true disparity gives ~0)")
    # image, SGBM, the model's disparity without and with the fill — red in front of the focal plane, blue
    # behind, 3 px = full colour
    _image_sheet([ims for _, ims in sheet], ["image", "SGBM (invalid: green)", "model, no fill", "model (pipeline)"],
                 out / "dp_signs.png", labels=[name for name, _ in sheet], cell=(2.75, 1.9), dpi=80)
    update_doc_table("dp_signs", markdown_table(
        ["pair", "axis", "agreement (pipeline)", "network alone", "views swapped"],
        [[k, v["axis"], f"{v['sign_agreement']:.2f}", f"{v['sign_agreement_without_fill']:.2f}",
          f"{v['sign_agreement_swapped_views']:.2f}"] for k, v in res.items()]), this_command("signs"))
    return res


def relation(args, out: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genrefocus.metrics.dual_pixel import blur_disparity_relation, relation_slope
    from genrefocus.optics.dp_disparity import dp_disparity_factor

    rel = blur_disparity_relation(args.data)
    d, r = rel["disparity_px"], rel["radius_px"]
    big = r >= 3
    slope = relation_slope(d, r, min_radius=3)
    print(f"{len(d)} textured 48-px blocks; blur radius ≥ 3 px ({int(big.sum())} blocks): DP disparity per radius "
          f"median {float(np.median(d[big] / r[big])):.2f}, least-squares slope {slope:.2f} (synthesis: flat disk "
          f"τ = 0.15 / 0.3 / 0.5 → {dp_disparity_factor(0.15):.2f} / {dp_disparity_factor(0.3):.2f} / "
          f"{dp_disparity_factor(0.5):.2f})")
    for lo, hi in ((0, 2), (2, 3), (3, 5), (5, 8), (8, 13)):
        s = (r >= lo) & (r < hi)
        if s.any():
            print(f"  radius {lo:2d}–{hi:2d} px: {int(s.sum()):3d} blocks, median |d| {float(np.median(d[s])):.2f} px")
    fig, ax = plt.subplots(figsize=(6, 4.2))
    jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(r))
    ax.scatter(r + jitter, d, s=6, alpha=0.4, c=rel["scene"], cmap="tab10", label="Canon blocks (colour: scene)")
    xs = np.linspace(0, 12, 2)
    for tau in (0.15, 0.3, 0.5):
        ax.plot(xs, dp_disparity_factor(tau) * xs, "--", lw=1, label=f"synthesis, flat disk, τ = {tau}")
    ax.plot(xs, slope * xs, "k-", lw=2, label=f"fit to the real blocks (r ≥ 3): {slope:.2f}")
    ax.set_xlabel("disk radius that turns the f/22 truth into the capture (px)")
    ax.set_ylabel("SGBM |disparity| (px)")
    ax.set_title("real Canon DP: disparity per blur radius", fontsize=10)
    ax.legend(fontsize=7)
    save_figure(fig, out / "dp_relation.png")
    print("wrote", out / "dp_relation.png")
    update_doc_table("dp_relation", markdown_table(["", "value"], [
        [f"DP disparity per px of blur radius (least squares, {int(big.sum())} blocks with radius ≥ 3 px)",
         f"**{slope:.2f}** (median ratio {float(np.median(d[big] / r[big])):.2f})"],
        ["the synthesis, flat disk, τ = 0.15 / 0.5 / 0.75 / 1.0", " / ".join(
            f"{dp_disparity_factor(t):.2f}" for t in (0.15, 0.5, 0.75, 1.0))]]), this_command("relation"))
    shapes = kernel_shapes(args.data)
    return {"blocks": len(d), "slope_r_ge_3": slope, "median_ratio_r_ge_3": float(np.median(d[big] / r[big])),
            "kernel_shapes": shapes}


def kernel_shapes(data) -> dict:
    """Which PSF family explains the real Canon blur (per block, best radius of each)."""
    from functools import partial

    import cv2

    from genrefocus.metrics.dual_pixel import kernel_shape_fit
    from genrefocus.optics.dp_synthesis import LensPSF, lens_kernel

    def full(psf):   # the combined capture's PSF: both halves
        return partial(lens_kernel, psf=psf)

    def cored(a):    # a flat disk with a sharp core: a fraction a of the light unblurred (an aberrated lens)
        def kernel(r):
            k = lens_kernel(r) * (1 - a)
            k[k.shape[0] // 2, k.shape[1] // 2] += a
            return k
        return kernel

    def gauss(r):    # OpenCV's Gaussian, σ = r / 2, out to 3σ + 1 px
        s = max(r / 2, 0.25)
        k = cv2.getGaussianKernel(2 * int(np.ceil(3 * s)) + 3, s)
        return torch.from_numpy(k @ k.T).float()

    kernels = {"flat disk": full(LensPSF()), "disk, soft edge (0.15 r)": full(LensPSF(edge=0.15)),
               "disk, soft edge (0.3 r)": full(LensPSF(edge=0.3)),
               "rim-bright lens PSF (Abuolaim et al.)": full(LensPSF(order=5, cutoff=0.9, floor=0.2, edge=0.05)),
               "Gaussian, σ = r / 2": gauss, **{f"flat disk + sharp core ({a:.0%} of the light)": cored(a)
                                                for a in (0.05, 0.1, 0.2)}}
    fit = kernel_shape_fit(data, kernels)
    for name in kernels:
        print(f"  {name:44s} residual / flat disk's {fit[name]['mse_ratio']:.3f}, beats the disk on "
              f"{fit[name]['wins']:.0%} of {fit['blocks']} blocks")
    update_doc_table("dp_kernel_shape", markdown_table(
        ["PSF family (best radius per block)", "residual / the flat disk's", "blocks where it beats the flat disk"],
        [[name, f"{fit[name]['mse_ratio']:.3f}", f"{fit[name]['wins']:.0%}"] for name in kernels]) +
        f"\n\n{fit['blocks']} textured 48-px blocks of the six Canon scenes with a best disk radius ≥ 2 px; residual: "
        "mean squared difference between the capture and the f/22 truth blurred by that family's best radius.",
        this_command("relation"))
    return fit


def resynthesis(args, pipe, out: Path) -> dict:
    """The model and a radius-oracle Wiener on each real pair and on its synthetic twin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genrefocus.io import load_frames
    from genrefocus.metrics import psnr
    from genrefocus.metrics.dual_pixel import block_errors, resynthesize_capture
    from genrefocus.optics.dp_classical import deconvolve_by_radius
    from genrefocus.optics.render import from_linear, to_linear
    from skimage.restoration import estimate_sigma   # needs PyWavelets (the test extra)

    def wiener(l, r, radius):
        lin = to_linear((l + r) / 2, "srgb")
        bins = np.arange(0.0, float(radius.max()) + 0.51, 0.5)
        return [from_linear(deconvolve_by_radius(lin, radius, bins, nsr), "srgb") for nsr in (3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)]

    rows, top, patch = [], 50, 48
    bins = ((0, 1), (1, 3), (3, 5), (5, 8), (8, 13))
    per_bin = {(name, b): [0.0, 0.0, 0] for name in ("real", "twin") for b in bins}   # Σ views-mean MSE, Σ model MSE, blocks
    detail = {(name, b): [0.0, 0.0] for name in ("real", "twin") for b in bins}      # Σ fine-detail energy: views' mean, truth

    def noise_sigma(x):   # scikit-image's wavelet (MAD) estimate of the noise σ, 8-bit levels, mean over RGB
        return 255 * float(np.mean(estimate_sigma(x[0].permute(1, 2, 0).numpy(), channel_axis=-1)))

    def fine(x):   # per-block energy of the grey level minus its 3×3 mean: the finest detail
        g = x.mean(1, keepdim=True)
        return block_errors(g, torch.nn.functional.avg_pool2d(g, 3, 1, 1, count_include_pad=False), patch)

    for i in range(6):
        blurry, _, gt = (t[..., top:, :] for t in load_frames(Path(args.data) / f"canon_res_{i:02d}.gif", n=3))
        left, right = (t[..., top:, :] for t in load_frames(Path(args.data) / f"canon_{i:02d}.gif", n=2))
        twin = resynthesize_capture(left, right, blurry, gt, patch)
        rad, radius, fg = twin["block_radius"], twin["coc"].abs(), fine(gt)
        row = {"scene": f"canon_{i:02d}"}
        for name, (l, r) in (("real", (left, right)), ("twin", (twin["left"], twin["right"]))):
            row[f"noise_{name}"] = (noise_sigma(l) + noise_sigma(r)) / 2
            base, aif = float(psnr((l + r) / 2, gt)), pipe.all_in_focus(l, r).aif.clamp(0, 1)
            ev, em = block_errors((l + r) / 2, gt, patch), block_errors(aif, gt, patch)
            fv = fine((l + r) / 2)
            for b in bins:
                sel = (rad >= b[0]) & (rad < b[1])
                acc = per_bin[(name, b)]
                acc[0], acc[1], acc[2] = acc[0] + float(ev[sel].sum()), acc[1] + float(em[sel].sum()), acc[2] + int(sel.sum())
                detail[(name, b)][0] += float(fv[sel].sum())
                detail[(name, b)][1] += float(fg[sel].sum())
            row[name] = {"views_mean": base, "model": float(psnr(aif, gt)) - base,
                         "wiener": max(float(psnr(w.clamp(0, 1), gt)) for w in wiener(l, r, radius)) - base}
        row["median_radius"] = float(rad.median())
        rows.append(row)
        print(f"{row['scene']}: median block radius {row['median_radius']:.1f} px; gain over the mean of the views — real: "
              f"model {row['real']['model']:+.2f}, Wiener (radius oracle) {row['real']['wiener']:+.2f}; twin: model "
              f"{row['twin']['model']:+.2f}, Wiener {row['twin']['wiener']:+.2f}; noise σ real {row['noise_real']:.1f}, "
              f"twin {row['noise_twin']:.1f} (8-bit)")
    keys = [("real", "model"), ("twin", "model"), ("real", "wiener"), ("twin", "wiener")]
    labels = {("real", "model"): "DPDeblurNet, real pair", ("twin", "model"): "DPDeblurNet, synthetic twin",
              ("real", "wiener"): "Wiener, radius oracle, real pair", ("twin", "wiener"): "Wiener, radius oracle, synthetic twin"}
    mean = {k: float(np.mean([r[k[0]][k[1]] for r in rows])) for k in keys}
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(rows))
    for j, k in enumerate(keys):
        ax.bar(x + (j - 1.5) * 0.2, [r[k[0]][k[1]] for r in rows], 0.2, label=labels[k])
    ax.set_xticks(x, [r["scene"] for r in rows])
    ax.axhline(0, color="k", lw=0.6)
    ax.set(ylabel="gain over the mean of the views (dB)",
           title="real Canon pairs and their synthetic twins (same content, same blur sizes)")
    ax.legend(fontsize=7)
    save_figure(fig, out / "dp_resynthesis.png")
    update_doc_table("dp_resynthesis", markdown_table(
        ["scene", "median block radius (px)", *[labels[k] for k in keys], "noise σ, real / twin (8-bit)"],
        [[r["scene"], f"{r['median_radius']:.1f}", *[f"{r[k[0]][k[1]]:+.2f}" for k in keys],
          f"{r['noise_real']:.1f} / {r['noise_twin']:.1f}"] for r in rows] +
        [["**mean**", "", *[f"**{mean[k]:+.2f}**" for k in keys], ""]]) +
        "\n\nGain (dB) over the mean of the two views, against the f/22 truth; the twin: the truth through the training "
        "synthesis (flat disk, τ = 0.75, sensor noise, GIF palette) with the capture's per-block radius and disparity sign; "
        "the Wiener oracle: the mean of the views deconvolved with that per-block radius (best of six noise ratios, 0.003–1); "
        "noise σ: scikit-image's wavelet estimate on the views (their dithering included).",
        this_command("resynthesis"))
    gain = {k: 10 * np.log10(v[0] / v[1]) if v[2] else float("nan") for k, v in per_bin.items()}
    for b in bins:
        print(f"  blocks of radius {b[0]}–{b[1]} px ({per_bin[('real', b)][2]}): model gain real {gain[('real', b)]:+.2f} dB, "
              f"twin {gain[('twin', b)]:+.2f} dB")
    update_doc_table("dp_resynthesis_by_radius", markdown_table(
        ["blur radius of the block (px)", *[f"{lo}–{hi}" for lo, hi in bins]],
        [["blocks (48 px, six scenes)", *[str(per_bin[("real", b)][2]) for b in bins]],
         ["DPDeblurNet, real pair (dB)", *[f"{gain[('real', b)]:+.2f}" for b in bins]],
         ["DPDeblurNet, synthetic twin (dB)", *[f"{gain[('twin', b)]:+.2f}" for b in bins]],
         *[[f"fine detail of the views' mean / the truth's, {label}",
            *[f"{np.sqrt(detail[(name, b)][0] / detail[(name, b)][1]):.2f}" for b in bins]]
           for name, label in (("real", "real pair"), ("twin", "twin"))]]) +
        "\n\nGain over the mean of the views, pooled over the blocks of each radius (fitted against the f/22 truth); fine "
        "detail: RMS of the grey level minus its 3×3 mean, pooled over the same blocks.",
        this_command("resynthesis"))
    return {"rows": rows, "mean": {f"{a}_{b}": v for (a, b), v in mean.items()},
            "by_radius": {f"{name}_{b[0]}-{b[1]}": g for (name, b), g in gain.items()},
            "fine_detail_ratio": {f"{name}_{b[0]}-{b[1]}": float(np.sqrt(v[0] / v[1])) for (name, b), v in detail.items()}}


def scene_lab(args, model, out: Path) -> dict:
    from genrefocus.metrics.dual_pixel import scene_lab_refocus
    from genrefocus.models.dp_deblur import DPDeblurNet

    # DPDeblurNet's refocus reuses the capture; scored beside the same model blurring its AIF everywhere
    reuse = isinstance(model, DPDeblurNet)
    variants = {"model": {}, "render_from_aif": {"reuse_capture": False}} if reuse else None
    rows, images = scene_lab_refocus(model, n=args.n, return_images=True, variants=variants)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k.endswith("_psnr")}
    report = {"rows": rows, "mean": mean}
    line = (f"scene-lab refocus to the foreground ({args.n} pairs, 64 px): model {mean['model_psnr']:.2f} dB, physical "
            f"renderer (model AIF + disparity) {mean['physical_psnr']:.2f} dB, input {mean['input_psnr']:.2f} dB; "
            f"model − physical = {mean['model_psnr'] - mean['physical_psnr']:+.2f} dB")
    cols = ["input (focus: back)", "exact render (focus: front)"]
    if reuse:
        report["render_from_aif_psnr"] = mean["render_from_aif_psnr"]
        line += f" (the same model blurring its AIF everywhere: {mean['render_from_aif_psnr']:.2f} dB)"
        images, cols = [row[:4] for row in images], cols + ["model (capture reused)", "model AIF blurred"]
    else:
        cols += ["model", "physical (model AIF)"]
    print(line)
    _image_sheet(images[:4], cols, out / "dp_scene_lab.png", interpolation="nearest")
    table = [["input (focused on the background)", f"{mean['input_psnr']:.2f}"],
             ["physical renderer on the model's AIF + disparity", f"{mean['physical_psnr']:.2f}"]]
    if reuse:
        table.append(["the model blurring its AIF everywhere", f"{mean['render_from_aif_psnr']:.2f}"])
    table.append(["**the model's refocus**" + (" (capture reused where it is blurrier than the target)" if reuse else ""),
                  f"**{mean['model_psnr']:.2f}**"])
    update_doc_table("dp_scene_lab", markdown_table(["", "PSNR (dB)"], table), this_command("scene_lab"))
    return report


def _image_sheet(rows, cols, path: Path, labels=None, cell=(2.4, 2.4), dpi: int = 90, interpolation=None) -> None:
    """A grid of ``(1, 3, H, W)`` images, one row per list (``labels`` beside the rows), columns titled
    ``cols``, ``cell`` inches per image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), len(cols), figsize=(cell[0] * len(cols), cell[1] * len(rows)), squeeze=False)
    for r, (row, ims) in enumerate(zip(axes, rows)):
        for ax, im in zip(row, ims):
            ax.imshow(im[0].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation=interpolation)
            ax.set_xticks([])
            ax.set_yticks([])
        if labels is not None:
            row[0].set_ylabel(labels[r], fontsize=8)
    for ax, c in zip(axes[0], cols):
        ax.set_title(c, fontsize=8)
    save_figure(fig, path, dpi)
    print("wrote", path)


def synthetic(args, model, out: Path) -> dict:
    """In-distribution gain by CoC radius on photos no model trained on, next to Wiener with the true kernel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genrefocus.data.photos import held_out_pool
    from genrefocus.metrics.dual_pixel import synthetic_gain_curve

    rows = synthetic_gain_curve({"model": model}, held_out_pool(), n=args.n, softness=0.75)
    for r in rows:
        print(f"synthetic one-plane pairs, CoC radius {r['coc']:2d} px ({args.n} pairs, held-out photos, τ = 0.75): input "
              f"{r['input']:.2f} dB, model {r['model'] - r['input']:+.2f}, Wiener (true kernel) {r['wiener'] - r['input']:+.2f}")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    cocs = [r["coc"] for r in rows]
    for key, label in (("model", "DPDeblurNet (blind: its disparity)"), ("wiener", "Wiener, true kernel (oracle)")):
        ax.plot(cocs, [r[key] - r["input"] for r in rows], "o-", label=label)
    ax.axhline(0, color="k", lw=0.6)
    ax.set(xlabel="CoC radius (px)", ylabel="gain over the mean of the views (dB)",
           title="in distribution: one-plane synthetic pairs, held-out photos")
    ax.legend(fontsize=8)
    save_figure(fig, out / "dp_synthetic.png")
    update_doc_table("dp_synthetic", markdown_table(
        ["CoC radius (px)", *[str(c) for c in cocs], "mean"],
        [[label, *[f"{r[key] - r['input']:+.2f}" for r in rows], f"{np.mean([r[key] - r['input'] for r in rows]):+.2f}"]
         for key, label in (("model", "DPDeblurNet gain over the mean of the views (dB)"),
                            ("wiener", "Wiener with the true kernel (best of four noise ratios)"))]) +
        "\n\nFlat disk, τ = 0.75 (a real Canon DSLR's 0.34 px of disparity per px of blur radius), mild sensor noise.",
        this_command("synthetic"))
    return {str(r["coc"]): r for r in rows}


MEMORY_JOB = r"""
import sys, time
from genrefocus.benchmark import peak_rss_kb, reset_peak_rss
reset_peak_rss()   # a forked child starts with its parent's peak-RSS mark
import torch, torch.nn.functional as F
torch.set_num_threads(2)
from genrefocus.io import load_dp_pair
from genrefocus.pipelines.dual_pixel import DPOptions, DualPixelPipeline
method, tile, ckpt, data, call = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
l, r = load_dp_pair(data)
l, r = (F.interpolate(t, scale_factor=2, mode="bicubic", align_corners=False).clamp(0, 1) for t in (l, r))
opts = DPOptions(axis="horizontal", tile=tile)
pipe = (DualPixelPipeline.from_pretrained(method="classical", options=opts) if method == "classical"
        else DualPixelPipeline.from_pretrained(ckpt, options=opts))
base = peak_rss_kb()
t = time.perf_counter()
out = pipe.all_in_focus(l, r) if call == "aif" else pipe(l, r, focus=(l.shape[-1] / 2, l.shape[-2] / 2))
dt = time.perf_counter() - t
print(f"{tuple(l.shape[-2:])} {dt:.2f} {peak_rss_kb() / 2**20:.3f} {base / 2**20:.3f}")
"""


def memory(args) -> dict:
    jobs = [("uid, whole image (baseline)", "learned", 0, args.uid_checkpoint, "aif"),
            (f"uid, tiles of {args.tile} px", "learned", args.tile, args.uid_checkpoint, "aif"),
            ("classical", "classical", 0, "", "aif"), ("model under test", "learned", args.tile, args.checkpoint, "aif"),
            ("model under test, refocus (point)", "learned", args.tile, args.checkpoint, "refocus")]
    res, base = {}, None
    for label, method, tile, ckpt, call in jobs:
        p = subprocess.run([sys.executable, "-c", MEMORY_JOB, method, str(tile), ckpt,
                            str(Path(args.data) / "canon_00.gif"), call], capture_output=True, text=True, cwd=ROOT)
        if p.returncode != 0:
            raise RuntimeError(f"{label}: {p.stderr[-2000:]}")
        shape, dt, peak, start = p.stdout.strip().splitlines()[-1].rsplit(" ", 3)
        res[label] = {"size": shape, "seconds": float(dt), "peak_rss_gb": float(peak), "rss_before_gb": float(start)}
        base = base or res[label]
        print(f"{label:36s} {shape}: {float(dt):6.1f} s ({float(dt) / base['seconds']:.2f}× baseline), peak RSS "
              f"{float(peak):.2f} GB ({float(peak) / base['peak_rss_gb']:.2f}×; {float(start):.2f} GB before the call)")
    update_doc_table("dp_memory", markdown_table(
        ["call", "peak RSS", "seconds", "vs the baseline (time, memory)"],
        [[k, f"{v['peak_rss_gb']:.2f} GB", f"{v['seconds']:.1f}",
          f"{v['seconds'] / base['seconds']:.2f}×, {v['peak_rss_gb'] / base['peak_rss_gb']:.2f}×"] for k, v in res.items()]) +
        f"\n\n{next(iter(res.values()))['rss_before_gb']:.2f} GB of each is the process before the call (Python, torch, "
        "the pair).", this_command("memory"))
    return res


@torch.no_grad()
def run(args) -> int:
    from genrefocus.errors import InputError, MissingWeightsError
    from genrefocus.io import check_output_dir
    from genrefocus.parsing import check_int

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise InputError("--parts", f"unknown part(s) {', '.join(bad) or '(none)'}; choose from {', '.join(PARTS)}")
    check_int("--n", args.n, 1, 1000)
    if args.tile != 0:
        check_int("--tile", args.tile, 64, 4096)
    out = check_output_dir(args.out, "--out")
    from genrefocus.pipelines.dual_pixel import DEFAULT_CHECKPOINT

    args.checkpoint = args.checkpoint or str(DEFAULT_CHECKPOINT)
    for flag, path in (("--checkpoint", args.checkpoint), ("--uid-checkpoint", args.uid_checkpoint)):
        if not (Path(path) / "config.json").is_file():
            raise MissingWeightsError(f"{flag}: {path!r} is not a dual-pixel checkpoint folder (no config.json)")
    if any(p != "scene_lab" for p in parts) and not (Path(args.data) / "canon_res_00.gif").is_file():
        raise InputError("--data", f"{args.data!r} has no canon_res_00.gif (../shared/data/dp_pairs)")
    from genrefocus.pipelines.dual_pixel import DPOptions, DualPixelPipeline

    print("machine:", machine())
    print("model under test:", args.checkpoint)
    pipe = DualPixelPipeline.from_pretrained(args.checkpoint, options=DPOptions(axis="auto", tile=args.tile))
    uid = DualPixelPipeline.from_pretrained(args.uid_checkpoint, options=DPOptions(axis="auto", tile=args.tile))
    classical = DualPixelPipeline.from_pretrained(method="classical", options=DPOptions(axis="auto"))
    report = {"machine": machine(), "checkpoint": args.checkpoint}
    t0 = time.time()
    if "validation" in parts:
        report["validation"] = validation(args, pipe, uid, classical, out)
    if "signs" in parts:
        report["signs"] = signs(args, pipe, out)
    if "relation" in parts:
        report["relation"] = relation(args, out)
    if "resynthesis" in parts:
        report["resynthesis"] = resynthesis(args, pipe, out)
    if "scene_lab" in parts:
        report["scene_lab"] = scene_lab(args, pipe.model, out)
    if "synthetic" in parts:
        report["synthetic"] = synthetic(args, pipe.model, out)
    if "memory" in parts:
        report["memory"] = memory(args)
    report["seconds"] = time.time() - t0
    out.mkdir(parents=True, exist_ok=True)  # a run of memory alone writes no image first
    (out / "dp_eval.json").write_text(json.dumps(report, indent=2, default=float))
    print("wrote", out / "dp_eval.json")
    return 0


def main(argv=None) -> int:
    return run_main("dp_eval", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
