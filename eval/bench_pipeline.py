#!/usr/bin/env python3
"""Benchmark generative refocusing (deblur N + bokeh N steps) with random FLUX.1-dev-sized weights.

Rows: the official per-branch attention loop (compat), fused attention (compat), fast mode
(independent conditions + condition KV cache, tiles batched), fast + FP8, and a low-memory row (CPU
offload + prompt cache + FP8). Prints seconds, peak GPU memory, latent tokens/s, achieved TFLOP/s
(FLOPs from genrefocus.models.flops, checked against torch's FLOP counter in the tests) and MFU,
with ratios against the loop row measured in the same run; writes results.json, a markdown table and
a bar plot. ``--tiny`` runs the same code on a tiny model on the CPU in CI time; ``--blocks 1``
keeps FLUX.1-dev's width with one double and one single block (a CPU-sized real-width step).

    python eval/bench_pipeline.py --size 1024x1024 --size 2048x1536       # on an H100/H200
    python eval/bench_pipeline.py --tiny --out out/bench_pipeline_tiny     # anywhere
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import bar_chart, machine, peak_tflops  # noqa: E402
from genrefocus.models.branches import kv_cache_bytes  # noqa: E402
from genrefocus.models.flops import sampling_flops  # noqa: E402
from genrefocus.models.flux_configs import FLUX_DEV, FLUX_VAE, TINY, TINY_VAE  # noqa: E402
from genrefocus.pipelines.options import SamplerOptions  # noqa: E402
from genrefocus.pipelines.random_weights import random_pipeline  # noqa: E402
from genrefocus.pipelines.tiling import TilePlan, use_tiling  # noqa: E402

ROWS = [("per-branch loop (compat)", dict(attention="loop")),
        ("fused (compat)", dict(attention="fused")),
        ("fast (KV cache)", dict(fast=True))]


def options_for(kw: dict) -> SamplerOptions:
    if kw.get("fast"):
        return SamplerOptions(independent_conditions=True, tile_batch=4)
    return SamplerOptions.compat(official_seeds=False, attention=kw["attention"])


def run_row(pipe, name, size, steps, device, **kw):
    h, w = size
    image = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    depth = 1.0 + torch.rand(1, 1, h, w, generator=torch.Generator().manual_seed(1)) * 4
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    with torch.no_grad():
        pipe.refocus(image, focus=(w // 2, h // 2), K=20, depth=depth, num_inference_steps=steps,
                     generator=torch.Generator(device).manual_seed(0), options=options_for(kw))
    if device == "cuda":
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device == "cuda" else float("nan")
    n = (h // 16) * (w // 16)
    tiled = use_tiling(h, w)
    tile_n = 1024 if tiled else n
    n_tiles = len(TilePlan(h // 16, w // 16)) if tiled else 1
    cfg = pipe.transformer.config
    fast = bool(kw.get("fast"))
    rank = {k: pipe.lora_info[k]["rank"] for k in ("deblur", "bokeh")}
    flops = sum(sampling_flops(cfg, tile_n, n_tiles, n_cond, steps, rank[k], independent=fast, kv_cache=fast,
                               attention="visible" if kw.get("attention") == "loop" else "dense")
                for k, n_cond in (("deblur", 1), ("bokeh", 2)))
    kv_gib = kv_cache_bytes(cfg, 2 * tile_n, n_tiles, torch.finfo(pipe.transformer.dtype).bits // 8) / 2 ** 30
    return {"row": name, "size": f"{w}x{h}", "seconds": sec, "peak_gib": peak, "tokens_per_s": 2 * steps * n / sec,
            "tflops": flops / sec / 1e12, "gflop": flops / 1e9, "kv_cache_gib": kv_gib if fast else 0.0}


def build_parser():
    ap = ArgumentParser(prog="bench_pipeline", description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny model on CPU (CI)")
    ap.add_argument("--blocks", type=int, default=None, help="FLUX.1-dev width with this many double + single blocks")
    ap.add_argument("--size", action="append", help="WxH (default 1024x1024 and 2048x1536; tiny: 256x256)")
    ap.add_argument("--steps", type=int, default=None, help="steps per stage (default 28; tiny: 2)")
    ap.add_argument("--out", default="out/bench_pipeline")
    return ap


def run(args) -> int:
    from genrefocus.errors import InputError
    from genrefocus.io import check_output_dir
    from genrefocus.parsing import check_int, parse_size

    sizes = [parse_size(s, "--size") for s in (args.size or (["256x256"] if args.tiny else ["1024x1024", "2048x1536"]))]
    if any(h % 16 or w % 16 for h, w in sizes):
        raise InputError("--size", "sides must be multiples of 16")
    if args.steps is not None:
        check_int("--steps", args.steps, 1)
    if args.blocks is not None:
        check_int("--blocks", args.blocks, 1, 57)
    out = check_output_dir(args.out, "--out")
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    steps = args.steps or (2 if args.tiny else 28)
    config = dict(TINY if args.tiny else FLUX_DEV)
    if args.blocks:
        config.update(num_layers=args.blocks, num_single_layers=args.blocks)
    print(f"machine: {machine()}")
    ranks = (4, 4) if args.tiny else (128, 64)
    meta = {"independent_conditions": "true"}  # so the fast row may run (random LoRAs, B = 0)
    pipe = random_pipeline(config, TINY_VAE if args.tiny else FLUX_VAE, lora_dir=tempfile.mkdtemp(),
                           loras={"deblur": dict(rank=ranks[0], scale=0.01, zero_b=True, metadata=meta),
                                  "bokeh": dict(rank=ranks[1], scale=0.01, zero_b=True, metadata=meta)})
    pipe.to(device, dtype)
    results = []
    for size in sizes:
        base = None
        for name, kw in ROWS:
            r = run_row(pipe, name, size, steps, device, **kw)
            base = base or r["seconds"]
            r["speedup_vs_loop"] = base / r["seconds"]
            results.append(r)
            print(f"{r['size']:>10} {name:28s} {r['seconds']:8.2f} s  peak {r['peak_gib']:6.2f} GiB  "
                  f"{r['tokens_per_s']:9.0f} tok/s  {r['gflop']:10.1f} GFLOP  {r['tflops']:7.3f} TFLOP/s  "
                  f"×{r['speedup_vs_loop']:.2f}  KV cache {r['kv_cache_gib']:.2f} GiB")
    if device == "cuda":
        from genrefocus.models.acceleration import quantize_transformer

        quantize_transformer(pipe.transformer, "fp8")
        for size in sizes:
            r = run_row(pipe, "fast + FP8", size, steps, device, fast=True)
            results.append(r)
            print(f"{r['size']:>10} {'fast + FP8':28s} {r['seconds']:8.2f} s  peak {r['peak_gib']:6.2f} GiB")
        pipe.enable_model_cpu_offload()
        r = run_row(pipe, "offload + prompt cache + FP8", sizes[0], steps, "cuda", fast=True)
        results.append(r)
        print(f"{r['size']:>10} {'offload + prompt cache + FP8':28s} {r['seconds']:8.2f} s  peak {r['peak_gib']:6.2f} GiB")
    else:
        print("fast + FP8 and the offload row: not measured (need a CUDA GPU with FP8)")
    peak = peak_tflops()
    for r in results:
        r["mfu"] = r["tflops"] / peak if peak else None
    (out / "results.json").write_text(json.dumps({"machine": machine(), "steps": steps, "rows": results}, indent=2))
    lines = ["| size | configuration | s | peak GiB | tokens/s | GFLOP | TFLOP/s | × loop | KV cache GiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['row']} | {r['seconds']:.2f} | {r['peak_gib']:.2f} | {r['tokens_per_s']:.0f} | "
              f"{r['gflop']:.1f} | {r['tflops']:.3f} | {r.get('speedup_vs_loop', float('nan')):.2f} | "
              f"{r['kv_cache_gib']:.2f} |" for r in results]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    bar_chart(out / "times.png", [f"{r['size']} {r['row']}" for r in results], [r["seconds"] for r in results],
              f"seconds (deblur {steps} + bokeh {steps} steps)", figsize=(7, 3.5), horizontal=True)
    print(f"wrote {out / 'results.json'}, {out / 'table.md'}, {out / 'times.png'}")


def main(argv=None) -> int:
    return run_main("bench_pipeline", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
