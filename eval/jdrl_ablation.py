#!/usr/bin/env python3
"""JDRL's ablation (paper 004, Table 5 #1 vs full): the same network trained on misaligned pairs with plain
L1 vs with the JDRL losses, scored against the exact **aligned** ground truth that neither saw.

Held-out pairs: crops of photos no trainer uses and no validation scene shows
(:func:`genrefocus.data.photos.held_out_pool`: scikit-image's Hubble deep field, immunohistochemistry and
retina, the pool the DP in-distribution curves use) — made into misaligned pairs exactly as the trainer
makes its own (``data.misaligned.misaligned_pair``: layered defocus + noise for the input; a small
homography + smooth flow + exposure/colour shift for the ground truth). Reports PSNR / SSIM against the aligned truth (and, for reference, against the misaligned target the L1 model was
fitted to) next to an oracle of how much the data allows: Wiener deconvolution given each pair's true CoC
field (spatially varying; per pair the best of five noise ratios, in the renderer's gamma-4 light or in
sRGB-linear light — the latter wins: the gamma-4 inverse amplifies the noise of bright areas). Reported: the
mean over pairs, the PSNR of the pooled error (less dominated by the easy pairs), the per-pair difference by
how blurred the input is, a per-pair scatter and a picture of crops with error maps; with ``--also`` (more
JDRL checkpoints, e.g. continuations) a curve of the gain by training steps (``jdrl_steps.png``).

Real photos as the Canon frames are delivered: the shared photos that are not validation scenes
(``bokehme/21.jpg``, Genfocus's ``AIF_example.png`` and ``Blurry_example.jpg``), halved (Lanczos) and stored
through a dithered 256-colour GIF palette; each model's detail ratio on them next to the clean photo's own
(its energy over the dithered one's: what a model that removed only the dither would score), and the
energy of the pixel-scale checkerboard each model draws on the photos as they are (over the photo's own).
Skipped when ``--photos`` (default ``../shared/data``) is absent.

    python eval/jdrl_ablation.py --l1 runs/jdrl_l1 [--jdrl runs/jdrl] [--also c2=runs/jdrl_c2] [--n 48]
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import machine  # noqa: E402


def build_parser():
    ap = ArgumentParser(prog="jdrl_ablation", description=__doc__.splitlines()[0])
    ap.add_argument("--jdrl", default=None, help="JDRL-loss checkpoint (default: the one genrefocus ships)")
    ap.add_argument("--l1", required=True, help="the same network trained with plain L1 (train_jdrl.py --loss l1)")
    ap.add_argument("--n", type=int, default=48, help="held-out pairs")
    ap.add_argument("--size", type=int, default=128, help="pair side (px)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--coc-max", type=float, default=8.0)
    ap.add_argument("--shift-max", type=float, default=2.0)
    ap.add_argument("--palette", type=float, default=0.0,
                    help="fraction of held-out inputs through a GIF palette (as train.py jdrl --palette)")
    ap.add_argument("--dither", action="store_true",
                    help="that palette with Floyd–Steinberg dithering, as the shared Canon frames (train.py jdrl --dither)")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=FOLDER",
                    help="more JDRL-loss checkpoints scored beside (e.g. continuations: a curve by training steps)")
    ap.add_argument("--photos", default=None,
                    help="the shared data folder (default ../shared/data, skipped if absent): its non-validation "
                         "photos delivered as the Canon frames")
    ap.add_argument("--out", default="out/jdrl_ablation")
    return ap


#: the shared photos that are not validation scenes (../shared/data)
DELIVERED_PHOTOS = {"bokehme 21": "bokehme/21.jpg", "Genfocus AIF": "genfocus/AIF_example.png",
                    "Genfocus blurry": "genfocus/Blurry_example.jpg"}


def delivered_photos(folder: Path, models: dict) -> dict | None:
    """:func:`genrefocus.metrics.dual_pixel.delivered_scores` on the photos of :data:`DELIVERED_PHOTOS` in
    ``folder``; None when the folder lacks them."""
    from genrefocus.io import load_image
    from genrefocus.metrics.dual_pixel import delivered_scores

    if not all((folder / f).is_file() for f in DELIVERED_PHOTOS.values()):
        return None
    return delivered_scores({name: load_image(folder / f)[:, :3] for name, f in DELIVERED_PHOTOS.items()}, models)


def _steps(folder) -> int | None:
    """Total training steps of a checkpoint folder (its train_log.json), None if it does not say."""
    log = Path(folder) / "train_log.json"
    if not log.is_file():
        return None
    d = json.loads(log.read_text())
    return d.get("total_steps", d.get("steps"))


def _curve(mean, steps: dict, out: Path) -> None:
    """Held-out gain over the input against training steps, the Wiener oracle and plain L1 as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genrefocus.benchmark import save_figure

    pts = sorted((k, mean[n]["psnr"] - mean["blurry"]["psnr"], n) for n, k in steps.items()
                 if n != "l1" and k is not None)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label="JDRL losses (each checkpoint)")
    for x, y, n in pts:
        ax.annotate(n, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    for n, style, label in (("wiener", "k--", "Wiener, true CoC field (oracle)"), ("l1", "r:", "plain L1")):
        ax.axhline(mean[n]["psnr"] - mean["blurry"]["psnr"], color=style[0], ls=style[1:], label=label)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.margins(x=0.12)
    ax.set(xlabel="training steps (batch 4, 96 px)", ylabel="gain over the input (dB, mean over pairs)",
           title="JDRL on held-out misaligned pairs, by training length")
    ax.legend(fontsize=7)
    print("wrote", save_figure(fig, out / "jdrl_steps.png"))


def _figure(samples, rows, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["blurry", "l1", "jdrl", "aligned"]
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(len(samples), 6, figsize=(13, 2.3 * len(samples)), squeeze=False)
    for ax_row, s in zip(axes, samples):
        for ax, n in zip(ax_row, names):
            ax.imshow(s[n][0].permute(1, 2, 0).clamp(0, 1).numpy())
        for ax, n in zip(ax_row[4:], ("l1", "jdrl")):
            ax.imshow((s[n] - s["aligned"]).abs().mean(1)[0].numpy(), cmap="inferno", vmin=0, vmax=0.15)
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, t in zip(axes[0], ["blurry input", "plain L1", "JDRL losses", "aligned truth (held out)",
                               "|L1 − truth|", "|JDRL − truth|"]):
        ax.set_title(t, fontsize=9)
    fig.suptitle("same network, misaligned training pairs: plain L1 vs JDRL (error maps 0–0.15); rows 1–3: JDRL's "
                 "largest leads, rows 4–5: L1's", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "jdrl_ablation.png", dpi=80)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.2, 4))
    a, b = [r["l1"]["psnr"] for r in rows], [r["jdrl"]["psnr"] for r in rows]
    ax.scatter(a, b, s=12)
    lo, hi = min(a + b) - 0.5, max(a + b) + 0.5
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel("plain L1: PSNR vs aligned truth (dB)")
    ax.set_ylabel("JDRL: PSNR vs aligned truth (dB)")
    ax.set_title(f"{len(rows)} held-out misaligned pairs", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "jdrl_ablation_scatter.png", dpi=90)
    plt.close(fig)
    print("wrote", out / "jdrl_ablation.png", "and", out / "jdrl_ablation_scatter.png")


@torch.no_grad()
def run(args) -> int:
    from genrefocus.errors import MissingWeightsError
    from genrefocus.io import check_output_dir
    from genrefocus.metrics.fidelity import psnr, ssim
    from genrefocus.models.jdrl import DEFAULT_CHECKPOINT, JDRLDeblur
    from genrefocus.parsing import check_dir, check_float, check_int, parse_named
    from genrefocus.data.photos import held_out_pool
    from genrefocus.data.misaligned import misaligned_pair
    from genrefocus.optics.dp_classical import deconvolve_by_radius
    from genrefocus.optics.focus_measure import variance_of_laplacian
    from genrefocus.optics.render import from_linear, to_linear

    def wiener(blurry, coc):   # the oracle's candidates: the true CoC field, 2 light spaces × 5 noise ratios
        bins = np.arange(0.0, float(coc.max()) + 0.51, 0.5)
        return [from_linear(deconvolve_by_radius(to_linear(blurry, g), coc, bins, nsr), g)
                for g in (4.0, "srgb") for nsr in (0.01, 0.03, 0.1, 0.3, 1.0)]

    check_int("--n", args.n, 1, 10000)
    check_int("--size", args.size, 32, 1024)
    check_float("--coc-max", args.coc_max, 0.0, 32.0)
    check_float("--shift-max", args.shift_max, 0.0, 16.0)
    check_float("--palette", args.palette, 0.0, 1.0)
    args.jdrl = args.jdrl or str(DEFAULT_CHECKPOINT)
    also = parse_named(args.also, "--also", taken=("blurry", "l1", "jdrl", "wiener", "aligned"))
    folders = {"l1": args.l1, "jdrl": args.jdrl, **also}
    for name, folder in folders.items():
        if not (Path(folder) / "config.json").is_file():
            flag = f"--{name}" if name in ("l1", "jdrl") else "--also"
            raise MissingWeightsError(f"{flag}: {folder!r} is not a JDRL checkpoint folder (no config.json)")
    if args.photos is not None:
        check_dir(args.photos, "--photos")
    args.photos = args.photos or str(ROOT.parent / "shared" / "data")
    out = check_output_dir(args.out, "--out")
    models = {name: JDRLDeblur.from_pretrained(folder) for name, folder in folders.items()}
    steps = {name: _steps(folder) for name, folder in folders.items()}
    pool = held_out_pool()
    rng = np.random.default_rng(args.seed)
    rows, samples = [], []
    for _ in range(args.n):
        p = misaligned_pair(pool, rng, args.size, args.coc_max, args.shift_max, args.palette, args.dither)
        outs = {"blurry": p["blurry"], **{n: m.deblur(p["blurry"]) for n, m in models.items()},
                "wiener": max(wiener(p["blurry"], p["coc"]), key=lambda w: float(psnr(w, p["aligned"])[0])),
                "aligned": p["aligned"]}
        row, v0 = {}, float(variance_of_laplacian(p["blurry"])[0])
        for n, x in outs.items():
            row[n] = {"psnr": float(psnr(x, p["aligned"])[0]), "ssim": float(ssim(x, p["aligned"])[0]),
                      "psnr_vs_misaligned_target": float(psnr(x, p["target"])[0]),
                      "log_detail": float(np.log(float(variance_of_laplacian(x)[0]) / v0))}
        rows.append(row)
        samples.append(outs)
    mean = {n: {k: float(np.mean([r[n][k] for r in rows])) for k in rows[0][n]} for n in rows[0]}
    for n in mean:  # PSNR of the error pooled over all pairs (−10·log10 of the mean MSE)
        with np.errstate(divide="ignore"):   # the aligned truth's own row: an error of 0, inf dB
            mean[n]["psnr_pooled"] = float(-10 * np.log10(np.mean([10 ** (-r[n]["psnr"] / 10) for r in rows])))
        mean[n]["detail"] = float(np.exp(mean[n].pop("log_detail")))   # geometric mean of output / input
    diff = np.array([r["jdrl"]["psnr"] - r["l1"]["psnr"] for r in rows])
    base = np.array([r["blurry"]["psnr"] for r in rows])
    print(f"machine: {machine()}\n{args.n} held-out misaligned pairs ({args.size} px, CoC ≤ {args.coc_max} px, "
          f"shift ≤ {args.shift_max} px, GIF palette on {args.palette:.0%}{' dithered' if args.dither else ''}); "
          "vs the aligned truth:")
    print(f"{'':8s} {'PSNR mean':>9s} {'pooled':>7s} {'SSIM':>6s} {'PSNR vs misaligned':>19s} {'detail':>7s}")
    for n in ("blurry", "l1", "jdrl", *also, "wiener", "aligned"):
        m = mean[n]
        print(f"{n:8s} {m['psnr']:9.2f} {m['psnr_pooled']:7.2f} {m['ssim']:6.3f} "
              f"{m['psnr_vs_misaligned_target']:19.2f} {m['detail']:7.2f}")
    print("detail: variance of the Laplacian over the input's (geometric mean over pairs), as bench_deblur's")
    bands = {}
    for lo, hi in ((0, 25), (25, 30), (30, 100)):
        sel = (base >= lo) & (base < hi)
        if sel.any():
            gain = {n: float(np.mean([rows[i][n]["psnr"] - rows[i]["blurry"]["psnr"] for i in np.where(sel)[0]]))
                    for n in ("l1", "jdrl", "wiener")}
            bands[f"input {lo}-{hi} dB"] = {"pairs": int(sel.sum()), "jdrl_better": int((diff[sel] > 0).sum()),
                                            "gain_over_input": gain}
            print(f"input PSNR {lo}–{hi} dB: {int(sel.sum())} pairs, JDRL better on {int((diff[sel] > 0).sum())}; "
                  f"gain over the input L1 {gain['l1']:+.2f} dB, JDRL {gain['jdrl']:+.2f} dB, Wiener oracle "
                  f"{gain['wiener']:+.2f} dB")
    print(f"JDRL − L1: mean {diff.mean():+.2f} dB, median {np.median(diff):+.2f} dB, pooled "
          f"{mean['jdrl']['psnr_pooled'] - mean['l1']['psnr_pooled']:+.2f} dB; JDRL better on "
          f"{int((diff > 0).sum())}/{args.n} pairs")
    wins = int((diff > 0).sum())
    order = np.argsort(diff)  # the picture: the 3 pairs where JDRL leads most, the 2 where L1 leads most
    _figure([samples[i] for i in list(order[::-1][:3]) + list(order[:2])], rows, out)
    if also:
        _curve(mean, steps, out)
    photos = delivered_photos(Path(args.photos), models)
    if photos is None:
        print(f"real photos: skipped ({args.photos!r} lacks {', '.join(DELIVERED_PHOTOS.values())})")
    else:
        print("real photos halved and stored as the Canon frames (dithered GIF palette): detail ratio per model; "
              "clean = the photo before the palette (what removing only the dither leaves); then the checkerboard "
              "energy of each output over the photo's, the photo as it is")
        d, g = photos["detail"], photos["grid"]
        for n in ("clean", *models):
            print(f"  {n:8s} " + " ".join(f"{p} {d[p][n]:.2f}" for p in d)
                  + ("" if n == "clean" else "   grid " + " ".join(f"{g[p][n]:.1f}" for p in g)))
    (out / "jdrl_ablation.json").write_text(json.dumps(
        {"machine": machine(), "args": {k: v for k, v in vars(args).items() if k != "func"}, "mean": mean,
         "steps": steps, "delivered_photos": photos,
         "jdrl_better_pairs": wins, "median_difference_db": float(np.median(diff)), "by_input_blur": bands,
         "rows": rows}, indent=2, default=str))
    print("wrote", out / "jdrl_ablation.json")
    from genrefocus.benchmark import markdown_table, this_command, update_doc_table

    best = {k: max(("l1", "jdrl"), key=lambda n: mean[n][k]) for k in ("psnr", "psnr_pooled", "ssim")}
    fmt = lambda n, k, f: (f"**{mean[n][k]:{f}}**" if best.get(k) == n else f"{mean[n][k]:{f}}")  # noqa: E731
    with_steps = lambda n: f" ({steps[n]} steps)" if steps[n] else ""  # noqa: E731
    update_doc_table("jdrl_ablation", markdown_table(
        ["", "PSNR (mean over pairs)", "PSNR (pooled error)", "SSIM", "detail"],
        [[label, fmt(n, "psnr", ".2f"), fmt(n, "psnr_pooled", ".2f"), fmt(n, "ssim", ".3f"), f"{mean[n]['detail']:.2f}"]
         for n, label in (("blurry", "blurry input"), ("l1", f"plain L1{with_steps('l1')}"),
                          ("jdrl", f"JDRL losses{with_steps('jdrl')}"),
                          *((n, f"JDRL losses, {n}{with_steps(n)}") for n in also),
                          ("wiener", "Wiener, true CoC field (oracle)"), ("aligned", "aligned truth"))]) +
        "\n\ndetail: variance of the Laplacian over the input's (geometric mean over pairs). Bold: the better of"
        " the ablation's pair (plain L1, the shipped JDRL model), not of the other rows."
        f" JDRL − L1: mean {diff.mean():+.2f} dB, median {np.median(diff):+.2f} dB; JDRL better on {wins}/{args.n} "
        "pairs.", this_command())
    if photos is not None:
        labels = {"clean": "the clean photo (only the dither removed)", "l1": "plain L1", "jdrl": "JDRL losses"}
        d, g = photos["detail"], photos["grid"]
        update_doc_table("jdrl_delivered_photos", markdown_table(
            ["", *[f"detail: {p}" for p in d], *[f"grid: {p}" for p in g]],
            [[labels.get(n, n), *[f"{d[p][n]:.2f}" for p in d], *["—" if n == "clean" else f"{g[p][n]:.1f}" for p in g]]
             for n in ("clean", *models)])
            + "\n\n*detail*: variance of the Laplacian over the delivered photo's — the shared photos that are not "
            "validation scenes, halved (Lanczos) and stored through a 256-colour palette with Floyd–Steinberg "
            "dithering, as the Canon frames are. *grid*: the energy of the pixel-scale checkerboard "
            "(`focus_measure.checkerboard_energy`) of the output over the photo's, on the photo as it is (full size, "
            "no palette).", this_command())
    return 0


def main(argv=None) -> int:
    return run_main("jdrl_ablation", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
