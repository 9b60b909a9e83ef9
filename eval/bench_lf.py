#!/usr/bin/env python3
"""LF-Bokeh / LF-Refocus benchmark: light-field ground truth, per-image K search, fidelity and
perceptual metrics, LVCorr; writes per-image CSVs, a markdown table, comparison grids and an LVCorr plot.

    python eval/bench_lf.py --synthetic --kind refocus --out out/lf_refocus          # no download
    python eval/bench_lf.py --hci /data/hci --kind bokeh --perceptual --out out/lf_bokeh
    python eval/bench_lf.py --synthetic --model ./FLUX.1-dev --lora-dir weights --out out/gen
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import machine  # noqa: E402
from genrefocus.parsing import RENDER_MODES  # noqa: E402
from genrefocus.data.lf_bench import build_samples, hci_light_fields, scene_lab_light_fields  # noqa: E402
from genrefocus.metrics.evaluate import (evaluate, generative_backend, lv_curve, physical_backend,  # noqa: E402
                                         write_report)


def _tiny_generative():
    """A tiny random FLUX with random LoRAs (CI smoke test of the generative backend)."""
    import tempfile

    from genrefocus.pipelines.random_weights import random_pipeline

    return random_pipeline(loras={"deblur": dict(seed=1, scale=0.1), "bokeh": dict(seed=2, scale=0.1)},
                           lora_dir=tempfile.mkdtemp())


def build_parser():
    ap = ArgumentParser(prog="bench_lf", description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--synthetic", action="store_true", help="scene-lab light fields (no download)")
    src.add_argument("--hci", help="HCI 4-D light-field root (<category>/<scene>/input_Cam*.png)")
    ap.add_argument("--kind", choices=["bokeh", "refocus"], default="refocus")
    ap.add_argument("--n-scenes", type=int, default=4)
    ap.add_argument("--per-scene", type=int, default=2)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--k-max", type=float, default=20.0, help="K search range [0, k-max] (px per px/view)")
    ap.add_argument("--methods", default="physical-scatter,physical-fast,physical-layered",
                    help="physical-<mode> for any render mode (bokehme, scatter, fast, layered)")
    ap.add_argument("--model", help="FLUX.1-dev folder: add the generative method")
    ap.add_argument("--lora-dir", default="weights")
    ap.add_argument("--tiny-generative", action="store_true", help="tiny random generative model (CI)")
    ap.add_argument("--steps", type=int, default=28)
    ap.add_argument("--perceptual", action="store_true", help="LPIPS/DISTS/CLIP-I/CLIP-IQA/MUSIQ/MANIQA")
    ap.add_argument("--download-metrics", action="store_true", help="let the perceptual metrics fetch missing weights")
    ap.add_argument("--out", default="out/lf_benchmark")
    return ap


@torch.no_grad()
def run(args) -> int:
    from genrefocus.errors import InputError
    from genrefocus.io import check_output_dir
    from genrefocus.parsing import check_dir, check_float, check_int

    check_int("--n-scenes", args.n_scenes, 1, 1000)
    check_int("--per-scene", args.per_scene, 1, 1000)
    check_int("--size", args.size, 32, 4096)
    check_int("--steps", args.steps, 1)
    check_float("--k-max", args.k_max, 0, 1000, open_low=True)
    check_output_dir(args.out, "--out")
    if args.hci:
        check_dir(args.hci, "--hci")
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in [f"physical-{mode}" for mode in RENDER_MODES]:
            raise InputError("--methods", f"unknown method {m!r}; use "
                             + ", ".join(f"physical-{mode}" for mode in RENDER_MODES))
    extra = {}
    if args.model:
        from genrefocus.hub import weights_source

        extra = weights_source(args.model, "--model", False, marker="model_index.json")
        for f in ("deblurNet.safetensors", "bokehNet.safetensors"):
            if not (Path(args.lora_dir) / f).is_file():
                from genrefocus.errors import MissingWeightsError

                raise MissingWeightsError(f"--lora-dir: {Path(args.lora_dir) / f} not found (nycu-cplab/Genfocus-Model)")
    lfs = scene_lab_light_fields(args.n_scenes, (args.size, args.size)) if args.synthetic else hci_light_fields(args.hci)
    samples = build_samples(lfs, kind=args.kind, per_lf=args.per_scene)
    print(f"machine: {machine()}\n{len(samples)} {args.kind} samples from {len(lfs)} light fields")
    backends = {}
    for m in methods:
        backends[m] = physical_backend(mode=m.split("-", 1)[1])
    if args.model or args.tiny_generative:
        if args.tiny_generative:
            pipe, steps = _tiny_generative(), 2
        else:
            from genrefocus.pipelines.generative import GenRefocusPipeline

            lora = Path(args.lora_dir)
            pipe = GenRefocusPipeline.from_pretrained(args.model, deblur_lora=lora / "deblurNet.safetensors",
                                                      bokeh_lora=lora / "bokehNet.safetensors", dtype=torch.bfloat16,
                                                      **extra)
            pipe.to("cuda" if torch.cuda.is_available() else "cpu")
            steps = args.steps
        pipe.set_progress_bar_config(disable=True)
        backends["generative"] = generative_backend(pipe, steps, refocus=args.kind == "refocus")
    perceptual = None
    if args.perceptual:
        from genrefocus.metrics.perceptual import PerceptualMetrics

        perceptual = PerceptualMetrics(allow_download=args.download_metrics)
        for k, why in perceptual.unavailable.items():
            print(f"  {k}: {why}")
    results, lv = {}, {}
    ks = list(np.linspace(0, args.k_max, 6))
    for name, backend in backends.items():
        results[name] = evaluate(samples, backend, k_range=(0.0, args.k_max), perceptual=perceptual,
                                 grid=7 if name == "generative" else 9, tol=0.5 if name == "generative" else 0.1)
        lv[name] = lv_curve(backend, samples[0], ks)
        r = results[name]
        print(f"{name:18s} PSNR {np.mean([x['psnr'] for x in r]):6.2f}  SSIM {np.mean([x['ssim'] for x in r]):.4f}  "
              f"LVCorr {lv[name][2]:.4f}")
    report = write_report(args.out, results, samples, lv, title=f"{'LF-Refocus' if args.kind == 'refocus' else 'LF-Bokeh'}"
                          f" ({'synthetic scene lab' if args.synthetic else 'HCI'})",
                          unavailable=perceptual.unavailable if perceptual else None)
    (Path(args.out) / "summary.json").write_text(json.dumps({
        m: {"psnr": float(np.mean([x["psnr"] for x in r])), "ssim": float(np.mean([x["ssim"] for x in r])),
            "lvcorr": lv[m][2], "K": [x["K"] for x in r]} for m, r in results.items()}, indent=2))
    print(f"wrote {report}")
    if args.synthetic:
        from genrefocus.benchmark import markdown_table, this_command, update_doc_table

        bench = "LF-Refocus" if args.kind == "refocus" else "LF-Bokeh"
        update_doc_table(f"lf_{args.kind}", markdown_table(
            ["benchmark", "method", "PSNR ↑", "SSIM ↑", "LVCorr ↑"],
            [[bench, m.replace("-", " "), f"{np.mean([x['psnr'] for x in r]):.2f}", f"{np.mean([x['ssim'] for x in r]):.4f}",
              f"{lv[m][2]:.4f}"] for m, r in results.items()]), this_command())


def main(argv=None) -> int:
    return run_main("bench_lf", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
