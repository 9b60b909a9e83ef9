#!/usr/bin/env python3
"""Deblurring benchmark on DPDD (76 test pairs) or RealDOF (50): 8-bit, full frame, PSNR / SSIM
(own, skimage-exact) and, with --perceptual, LPIPS / DISTS / CLIP-IQA / MANIQA / MUSIQ (paper Table 2).

    python eval/bench_deblur.py --dataset dpdd --root /data/DPDD --method generative --model ./FLUX.1-dev
    python eval/bench_deblur.py --dataset realdof --root /data/RealDOF --method identity
"""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import machine  # noqa: E402
from genrefocus.data import readers  # noqa: E402
from genrefocus.metrics.evaluate import evaluate_deblur, write_report  # noqa: E402


def build_parser():
    ap = ArgumentParser(prog="bench_deblur", description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["dpdd", "realdof"], required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--method", default="identity", help="identity (the blurry input) or generative")
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

    check_dir(args.root, "--root")
    check_output_dir(args.out, "--out")
    check_int("--steps", args.steps, 1)
    if args.limit is not None:
        check_int("--limit", args.limit, 1)
    if args.method not in ("identity", "generative"):
        raise InputError("--method", f"identity or generative, got {args.method!r}")
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
    else:
        from genrefocus.pipelines.generative import GenRefocusPipeline

        pipe = GenRefocusPipeline.from_pretrained(args.model, deblur_lora=Path(args.lora_dir) / "deblurNet.safetensors",
                                                  dtype=torch.bfloat16, **extra)
        pipe.to("cuda" if torch.cuda.is_available() else "cpu")
        fn = lambda x: pipe.deblur(x, num_inference_steps=args.steps).aif  # noqa: E731
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


def main(argv=None) -> int:
    return run_main("bench_deblur", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
