#!/usr/bin/env python3
"""Benchmark the physical renderers: reference BokehMe scatter vs fast vs layered.

On BokehMe's 1080×1350 demo image at K = 60 (disp_focus 90/255, γ = 4) on this CPU, and on a CUDA
GPU when one is present (plus a 12-MP render there). Prints seconds, ratios measured in the same
run, PSNR against BokehMe's own output, and writes a comparison grid and a bar plot.

    python eval/bench_renderer.py --data ../shared/data/bokehme --out out/bench_renderer
"""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import bar_chart, machine, timed  # noqa: E402
from genrefocus.io import load_disparity, load_image  # noqa: E402
from genrefocus.metrics import psnr  # noqa: E402
from genrefocus.optics import render_bokeh  # noqa: E402


def build_parser():
    ap = ArgumentParser(prog="bench_renderer", description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "bokehme"))
    ap.add_argument("--out", default="out/bench_renderer")
    ap.add_argument("--skip-reference", action="store_true", help="skip the ~2-minute CPU reference render")
    ap.add_argument("--repeats", type=int, default=3)
    return ap


@torch.no_grad()
def run(args) -> int:
    from genrefocus.errors import InputError
    from genrefocus.io import check_output_dir
    from genrefocus.parsing import check_dir, check_int

    check_int("--repeats", args.repeats, 1, 100)
    check_output_dir(args.out, "--out")
    for name in ("21.jpg", "21_disparity.png", "21_bokeh_classical_K60_df0.353_gamma4.jpg"):
        if not (check_dir(args.data, "--data") / name).is_file():
            raise InputError("--data", f"{args.data!r} lacks {name} (BokehMe's demo files, ../shared/data/bokehme)")
    data, out_dir = Path(args.data), Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    image = load_image(data / "21.jpg")
    coc = 60.0 * (load_disparity(data / "21_disparity.png", png_8bit=True) - 90.0 / 255.0)
    target = load_image(data / "21_bokeh_classical_K60_df0.353_gamma4.jpg")
    H, W = image.shape[-2:]
    print(f"machine: {machine()}")
    print(f"image: {W}×{H}, K=60, max |CoC| = {float(coc.abs().max()):.1f} px")

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows, renders = [], {}
    for dev in devices:
        x, c = image.to(dev), coc.to(dev)
        for mode in ("bokehme", "fast", "layered"):
            if mode == "bokehme" and dev == "cpu" and args.skip_reference:
                continue
            reps = 1 if (mode == "bokehme" and dev == "cpu") else args.repeats
            res, sec = timed(lambda: render_bokeh(x, c, mode=mode), dev, repeats=reps, warmup=0 if reps == 1 else 1)
            p = float(psnr(res.cpu(), target)[0])
            rows.append({"device": dev, "mode": mode, "seconds": sec, "psnr_vs_bokehme": p})
            renders[(dev, mode)] = res.cpu()
            print(f"{dev:5s} {mode:8s} {sec:8.3f} s   PSNR vs BokehMe output {p:6.2f} dB")
    for dev in devices:
        t = {r["mode"]: r["seconds"] for r in rows if r["device"] == dev}
        if "bokehme" in t:
            print(f"{dev}: fast is {t['bokehme'] / t['fast']:.1f}× faster than the reference, "
                  f"layered {t['bokehme'] / t['layered']:.1f}×")
    if torch.cuda.is_available():  # 12 MP (4000×3000) fast render on the GPU
        big = torch.nn.functional.interpolate(image, size=(3000, 4000), mode="bilinear").cuda()
        bc = torch.nn.functional.interpolate(coc, size=(3000, 4000), mode="bilinear").cuda() * (4000 / W)
        _, sec = timed(lambda: render_bokeh(big, bc / 4.0, mode="fast"), "cuda", repeats=3, warmup=1)
        print(f"cuda  fast 12 MP (4000×3000, max CoC {float(bc.abs().max()) / 4:.0f} px): {sec:.3f} s")
        rows.append({"device": "cuda", "mode": "fast-12MP", "seconds": sec})
    (out_dir / "results.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len([k for k in renders if k[0] == "cpu"]), figsize=(16, 5))
    axes[0].imshow(target[0].permute(1, 2, 0).numpy())
    axes[0].set_title("BokehMe output (reference)")
    for ax, ((dev, mode), img) in zip(axes[1:], [kv for kv in renders.items() if kv[0][0] == "cpu"]):
        r = next(r for r in rows if r["device"] == dev and r["mode"] == mode)
        ax.imshow(img[0].permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(f"{mode}: {r['seconds']:.2f} s, {r['psnr_vs_bokehme']:.1f} dB")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out_dir / "grid.png", dpi=70)
    bar_chart(out_dir / "times.png", [f"{r['device']}\n{r['mode']}" for r in rows], [r["seconds"] for r in rows],
              "seconds (log)", log=True, title="renderer time, 1080×1350, K=60")
    print(f"wrote {out_dir / 'grid.png'}, {out_dir / 'times.png'}, {out_dir / 'results.json'}")


def main(argv=None) -> int:
    return run_main("bench_renderer", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
