#!/usr/bin/env python3
"""Deblurring benchmark: DPDD (76 test pairs) or RealDOF (50), or the six real Canon validation scenes.

DPDD / RealDOF: 8-bit, full frame, PSNR / SSIM (own, skimage-exact) and, with --perceptual, LPIPS /
DISTS / CLIP-IQA / MANIQA / MUSIQ (paper Table 2). ``--dataset canon`` (``../shared/data/dp_pairs``,
``canon_res_XX.gif``: frame 0 input, frame 1 DPDNet, frame 2 f/22 ground truth, top 50 rows left out):
input, unsharp masking, a mild Gaussian smoothing (σ 0.4 px: the best of σ 0.4–1.0 on these scenes, the control
that tells deblurring from denoising the GIF palette), JDRL (the shipped checkpoint or ``--checkpoint``; more with
``--also``) and DPDNet, aligned and with JDRL's warped protocol (the ground truth moved onto each output by DIS flow,
paper 004 §4), a table, a JSON report and a contact sheet of crops.

    python eval/bench_deblur.py --dataset canon
    python eval/bench_deblur.py --dataset canon --also l1=runs/jdrl_l1
    python eval/bench_deblur.py --dataset dpdd --root /data/DPDD --method generative --model ./FLUX.1-dev
    python eval/bench_deblur.py --dataset realdof --root /data/RealDOF --method jdrl
"""

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import machine  # noqa: E402
from genrefocus.data import readers  # noqa: E402
from genrefocus.metrics.evaluate import evaluate_deblur, write_report  # noqa: E402


def build_parser():
    ap = ArgumentParser(prog="bench_deblur", description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["dpdd", "realdof", "canon"], required=True)
    ap.add_argument("--root", default=None, help="dataset folder (canon: default ../shared/data/dp_pairs)")
    ap.add_argument("--method", default="identity", help="identity (the blurry input), jdrl or generative "
                                                         "(dpdd/realdof; canon runs its fixed set)")
    ap.add_argument("--checkpoint", default=None, help="JDRL checkpoint folder (default: the one genrefocus ships)")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=FOLDER",
                    help="canon: another JDRL checkpoint to score beside it (repeatable)")
    ap.add_argument("--model", help="FLUX.1-dev folder (generative)")
    ap.add_argument("--lora-dir", default="weights")
    ap.add_argument("--steps", type=int, default=28)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--perceptual", action="store_true")
    ap.add_argument("--download-metrics", action="store_true", help="let the perceptual metrics fetch missing weights")
    ap.add_argument("--out", default="out/deblur")
    return ap


@torch.no_grad()
def run(args) -> int:
    from genrefocus.errors import InputError
    from genrefocus.io import check_output_dir
    from genrefocus.parsing import check_dir, check_int

    if args.dataset == "canon":
        args.root = args.root or str(ROOT.parent / "shared" / "data" / "dp_pairs")
    if not args.root:
        raise InputError("--root", f"--dataset {args.dataset} needs --root (the dataset folder)")
    check_dir(args.root, "--root")
    out = check_output_dir(args.out, "--out")
    check_int("--steps", args.steps, 1)
    if args.limit is not None:
        check_int("--limit", args.limit, 1)
    if args.method not in ("identity", "generative", "jdrl"):
        raise InputError("--method", f"identity, jdrl or generative, got {args.method!r}")
    if args.dataset == "canon" and not (Path(args.root) / "canon_res_00.gif").is_file():
        raise InputError("--root", f"{args.root!r} has no canon_res_00.gif (../shared/data/dp_pairs)")
    jdrl = _jdrl_checkpoints(args) if args.dataset == "canon" or args.method == "jdrl" else {}
    if args.dataset == "canon":
        return canon(args, jdrl, out)
    extra = {}
    if args.method == "generative":
        from genrefocus.hub import weights_source

        if not args.model:
            raise InputError("--model", "--method generative needs --model (a FLUX.1-dev folder)")
        extra = weights_source(args.model, "--model", False, marker="model_index.json")
        if not (Path(args.lora_dir) / "deblurNet.safetensors").is_file():
            from genrefocus.errors import MissingWeightsError
            from genrefocus.models.lora import missing_lora_message

            raise MissingWeightsError(missing_lora_message("deblur", Path(args.lora_dir) / "deblurNet.safetensors"))
    pairs = list(readers.dpdd(args.root, "test", "c") if args.dataset == "dpdd" else readers.realdof(args.root))
    pairs = pairs[: args.limit] if args.limit else pairs
    if not pairs:
        raise InputError("--root", f"no {args.dataset} pairs under {args.root!r}")
    if args.method == "identity":
        fn = lambda x: x  # noqa: E731
    elif args.method == "jdrl":
        fn = jdrl["jdrl"][1].deblur
    else:
        from genrefocus.pipelines.generative import GenRefocusPipeline

        pipe = GenRefocusPipeline.from_pretrained(args.model, deblur_lora=Path(args.lora_dir) / "deblurNet.safetensors",
                                                  dtype=torch.bfloat16, **extra)
        pipe.to("cuda" if torch.cuda.is_available() else "cpu")
        fn = lambda x: pipe.deblur(x, num_inference_steps=args.steps).image  # noqa: E731
    perceptual = None
    if args.perceptual:
        from genrefocus.metrics.perceptual import NO_REFERENCE, PerceptualMetrics

        perceptual = PerceptualMetrics(("lpips", "dists") + NO_REFERENCE, allow_download=args.download_metrics)
    rows = evaluate_deblur(pairs, fn, perceptual)
    print(f"machine: {machine()}\n{args.dataset}: {len(rows)} pairs, {args.method}: PSNR "
          f"{np.mean([r['psnr'] for r in rows]):.3f} dB, SSIM {np.mean([r['ssim'] for r in rows]):.4f}")

    class S:  # grid rows need source/target images
        def __init__(self, p):
            from genrefocus.io import load_image

            self.source, self.target = load_image(p["input"]), load_image(p["target"])

    print("wrote", write_report(args.out, {args.method: rows}, [S(p) for p in pairs[:4]],
                                title=f"Deblurring on {args.dataset.upper()} (8-bit, full frame)",
                                unavailable=perceptual.unavailable if perceptual else None))


def _jdrl_checkpoints(args) -> dict:
    """``{name: (folder, JDRLDeblur)}`` for --checkpoint (``"jdrl"``) and each --also, every folder checked first."""
    from genrefocus.errors import MissingWeightsError
    from genrefocus.models.jdrl import DEFAULT_CHECKPOINT, JDRLDeblur
    from genrefocus.parsing import parse_named

    folders = {"jdrl": (args.checkpoint or str(DEFAULT_CHECKPOINT), "--checkpoint")}
    also = parse_named(args.also, "--also", taken=("jdrl", "input", "unsharp", "smoothing", "dpdnet", "gt"))
    folders.update({name: (folder, "--also") for name, folder in also.items()})
    for folder, flag in folders.values():
        if not (Path(folder) / "config.json").is_file():
            raise MissingWeightsError(f"{flag}: {folder!r} is not a JDRL checkpoint folder (no config.json)")
    return {name: (folder, JDRLDeblur.from_pretrained(folder)) for name, (folder, _) in folders.items()}


def canon(args, models: dict, out: Path) -> int:
    """The six real Canon scenes: input / unsharp / JDRL model(s) / DPDNet vs the f/22 ground truth."""
    import json

    from genrefocus.benchmark import crop_contact_sheet
    from genrefocus.metrics.dual_pixel import detail_by_focus, dp_validation
    from genrefocus.models.residual import highpass_residual
    from genrefocus.optics.dp_classical import unsharp_mask
    from genrefocus.perception.flow import OpenCVFlow, warp

    flow = OpenCVFlow("dis")
    methods = {"unsharp": unsharp_mask, "smoothing": lambda b: b - highpass_residual(b, 0.4),
               **{n: m.deblur for n, (_, m) in models.items()}}
    rows, images = dp_validation(args.root, methods, scenes=range(args.limit or 6), single=True,
                                 align=lambda pred, gt: warp(gt, flow(pred, gt)))
    names = ["input", "unsharp", "smoothing", *models, "dpdnet"]
    print(f"machine: {machine()}")
    report = {"machine": machine(), "checkpoints": {n: str(folder) for n, (folder, _) in models.items()}}
    for key, label in (("psnr", "aligned"), ("psnr_w", "warped protocol: ground truth moved onto each output")):
        print(f"\n{label} — PSNR dB / SSIM vs the f/22 ground truth (rows 50:)")
        print(f"{'scene':10s} " + " ".join(f"{n:>15s}" for n in names))
        sk = "ssim" if key == "psnr" else "ssim_w"
        for r in rows + [{"scene": "mean", **{n: {k: float(np.mean([r[n][k] for r in rows])) for k in (key, sk)}
                                              for n in names}}]:
            print(f"{r['scene']:10s} " + " ".join(f"{r[n][key]:7.2f} / {r[n][sk]:.3f}" for n in names))
    mean = {n: {k: float(np.mean([r[n][k] for r in rows])) for k in rows[0][n]} for n in names}
    gains = {n: [r[n]["psnr"] - r["input"]["psnr"] for r in rows] for n in models}
    for n, g in gains.items():
        print(f"{n}: gain over the input per scene " + " ".join(f"{x:+.2f}" for x in g) + f" dB (min {min(g):+.2f})")
    by_focus = detail_by_focus(images)
    print("\ndetail by focus: 32-px tiles binned by the truth's own ratio (truth / input Laplacian energy); "
          "per bin: share of the input's energy, then each image's energy over the input's")
    for k, (lo, hi) in enumerate(by_focus["bins"]):
        print(f"  truth/input {lo:g}–{hi:g}: share {by_focus['share'][k]:.2f}  "
              + " ".join(f"{n} {by_focus[n][k]:.2f}" for n in names[1:] + ["gt"]))
    report.update(rows=rows, mean=mean, gain_over_input=gains, detail_by_focus=by_focus)
    crop_contact_sheet(images, names + ["gt"], out / "canon_deblur.png",
                       "real Canon validation scenes, single-image deblurring: crops at the sharpest "
                       "ground-truth detail")
    (out / "canon_deblur.json").write_text(json.dumps(report, indent=2))
    print("wrote", out / "canon_deblur.json")
    from genrefocus.benchmark import markdown_table, this_command, update_doc_table

    heads = {"input": "input", "unsharp": "unsharp", "smoothing": "Gaussian σ 0.4", "jdrl": "**JDRL**",
             "dpdnet": "DPDNet (real data)"}
    cell = lambda d, n: f"{d[n]['psnr']:.2f} / {d[n]['ssim']:.3f} / {d[n]['detail']:.2f}"  # noqa: E731
    table = markdown_table(
        ["scene", *[heads.get(n, n) for n in names], "warped: input", "warped: **JDRL**"],
        [[r["scene"], *[cell(r, n) for n in names], f"{r['input']['psnr_w']:.2f}", f"{r['jdrl']['psnr_w']:.2f}"]
         for r in rows] + [["**mean**", *[cell(mean, n) for n in names], f"{mean['input']['psnr_w']:.2f}",
                            f"{mean['jdrl']['psnr_w']:.2f}"]])
    update_doc_table("jdrl_canon", "PSNR dB / SSIM / detail (variance of the Laplacian over the input's)\n\n" + table,
                     this_command())
    bin_label = lambda lo, hi: f"{lo:g}–{hi:g}" if hi < float("inf") else f"≥ {lo:g}"  # noqa: E731
    tiles = markdown_table(
        ["truth / input (tile)", "share of the input's energy", *[heads.get(n, n) for n in names[1:]], "ground truth"],
        [[bin_label(lo, hi), f"{by_focus['share'][k]:.2f}", *[f"{by_focus[n][k]:.2f}" for n in names[1:] + ["gt"]]]
         for k, (lo, hi) in enumerate(by_focus["bins"])])
    update_doc_table("jdrl_canon_tiles", "Energy of the Laplacian over the input's, pooled over the six scenes, in "
                     "32-px tiles binned by the truth's own ratio (about 1: the input is in focus there; well over 1: "
                     "defocused)\n\n" + tiles, this_command())
    _frontier(rows, mean, names, heads, _photo_grid(args, methods), out)
    return 0


def _photo_grid(args, methods: dict) -> dict:
    """:func:`genrefocus.metrics.dual_pixel.grid_ratios` on the shared defocused Genfocus example (full size, a
    user's file; not a validation scene): where a method invents a pixel grid. ``{}`` without it."""
    from genrefocus.io import load_image
    from genrefocus.metrics.dual_pixel import grid_ratios

    path = Path(args.root).parent / "genfocus" / "Blurry_example.jpg"
    if not path.is_file():
        print(f"({path} absent: no grid on the defocused example)")
        return {}
    return grid_ratios(load_image(path)[:, :3], methods)


def _frontier(rows, mean, names, heads, photo_grid: dict, out: Path) -> None:
    """Real detail against an invented grid, one point per method: the table ``jdrl_canon_frontier`` and
    ``canon_frontier.png`` — Canon detail ratio (y) against the grid each method draws on the defocused Genfocus
    example (x, :func:`_photo_grid`). Which methods reach detail > 1 on the real frames, and at what grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genrefocus.benchmark import markdown_table, this_command, update_doc_table

    gt = {k: float(np.mean([r["gt"][k] for r in rows])) for k in ("detail", "grid")}
    points = [n for n in names if n != "input"]
    gain = {n: [r[n]["psnr"] - r["input"]["psnr"] for r in rows] for n in points}
    table = markdown_table(
        ["method", "Canon gain over the input, mean (min) dB", "Canon detail", "scenes with detail > 1",
         "Canon grid", "grid on the defocused example"],
        [[heads.get(n, n), f"{np.mean(gain[n]):+.2f} ({min(gain[n]):+.2f})", f"{mean[n]['detail']:.2f}",
          f"{sum(r[n]['detail'] > 1 for r in rows)} / {len(rows)}", f"{mean[n]['grid']:.2f}",
          f"{photo_grid[n]:.1f}×" if n in photo_grid else "—"] for n in points]
        + [["ground truth (f/22)", "", f"{gt['detail']:.2f}", f"{sum(r['gt']['detail'] > 1 for r in rows)} / "
            f"{len(rows)}", f"{gt['grid']:.2f}", "—"]])
    update_doc_table("jdrl_canon_frontier", "Detail: variance of the Laplacian over the input's; grid: checkerboard "
                     "energy (`focus_measure.checkerboard_energy`) over the input's — on the Canon frames (mean of "
                     "the six scenes), and on the defocused Genfocus example at full size (a user's photo, not a "
                     "validation scene)\n\n" + table, this_command())
    if not photo_grid:
        return
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for i, n in enumerate(sorted((n for n in points if n in photo_grid), key=lambda n: photo_grid[n])):
        sc = ax.scatter(photo_grid[n], mean[n]["detail"], c=[[float(np.mean(gain[n]))]], cmap="viridis",
                        vmin=-1.0, vmax=1.0, s=40, edgecolors="k", zorder=3)
        ax.annotate(heads.get(n, n).strip("*"), (photo_grid[n], mean[n]["detail"]), fontsize=7,
                    xytext=(5, 4 if i % 2 else -10), textcoords="offset points")   # neighbours alternate
    for y, label, colour in ((gt["detail"], "f/22 ground truth", "red"),
                             (mean["dpdnet"]["detail"], "DPDNet (real training pairs)", "orange"),
                             (1.0, "the input", "grey")):
        ax.axhline(y, color=colour, lw=0.8, ls="--")
        ax.text(0.01, y, f" {label}", color=colour, fontsize=7, va="bottom",
                transform=ax.get_yaxis_transform())
    ax.axvline(2.0, color="grey", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks([0.5, 1, 2, 5, 10, 20, 50, 100])
    ax.set_yticks([0.1, 0.2, 0.5, 1, 2, 4])
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("grid drawn on the defocused Genfocus example (checkerboard energy over the photo's)")
    ax.set_ylabel("Canon detail (variance of the Laplacian over the input's)")
    ax.set_title("Real detail against an invented grid (colour: Canon mean PSNR gain, dB)", fontsize=9)
    fig.colorbar(sc, ax=ax, label="Canon mean gain over the input (dB)")
    fig.tight_layout()
    fig.savefig(out / "canon_frontier.png", dpi=120)
    plt.close(fig)
    print("wrote", out / "canon_frontier.png")


def main(argv=None) -> int:
    return run_main("bench_deblur", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
