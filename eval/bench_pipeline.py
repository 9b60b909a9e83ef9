#!/usr/bin/env python3
"""Benchmark generative refocusing (deblur 28 + bokeh 28 steps) with random FLUX.1-dev-sized weights.

Rows: official per-branch attention loop (compat), fused attention (compat), fast mode (independent
conditions + condition KV cache), fast + FP8, and a low-memory row (CPU offload + prompt cache +
FP8). Prints seconds, peak GPU memory, latent tokens/s and achieved TFLOP/s against the GPU's peak,
with ratios against the loop row measured in the same run; writes results.json, a markdown table
and a bar plot. ``--tiny`` runs the same code on a tiny model on the CPU in CI time.

    python eval/bench_pipeline.py --size 1024x1024 --size 2048x1536       # on an H100/H200
    python eval/bench_pipeline.py --tiny --out out/bench_pipeline_tiny     # anywhere
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from diffusers import AutoencoderKL, FluxTransformer2DModel
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.benchmark import bar_chart, flux_forward_flops, machine, peak_tflops  # noqa: E402
from genrefocus.models.lora import routed_module_names  # noqa: E402
from genrefocus.pipelines.generative import BOKEH_PROMPT, DEBLUR_PROMPT, GenRefocusPipeline, flux_scheduler  # noqa: E402
from genrefocus.pipelines.tiling import TilePlan, use_tiling  # noqa: E402

FLUX_DEV = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
                num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
                axes_dims_rope=(16, 56, 56))
TINY = dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=24, guidance_embeds=True,
            axes_dims_rope=(4, 6, 6))
FLUX_VAE = dict(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
                down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                layers_per_block=2, shift_factor=0.1159, scaling_factor=0.3611, use_quant_conv=False,
                use_post_quant_conv=False)
TINY_VAE = dict(FLUX_VAE, latent_channels=4, block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=4)


def build(tiny: bool, device, dtype, out: Path):
    torch.manual_seed(0)
    tr = FluxTransformer2DModel(**(TINY if tiny else FLUX_DEV)).to(dtype)
    vae = AutoencoderKL(**(TINY_VAE if tiny else FLUX_VAE)).to(dtype)
    sched = flux_scheduler()
    pipe = GenRefocusPipeline(scheduler=sched, vae=vae, text_encoder=None, tokenizer=None, text_encoder_2=None,
                              tokenizer_2=None, transformer=tr)
    cfg = tr.config
    for p in (DEBLUR_PROMPT, BOKEH_PROMPT):  # prompt cache of the right shapes: T5/CLIP not loaded
        pipe.cache_prompt(p, torch.randn(1, 512, cfg.joint_attention_dim), torch.randn(1, cfg.pooled_projection_dim))
    mods = dict(tr.named_modules())
    for kind, rank in (("deblur", 128), ("bokeh", 64)):
        r = 4 if tiny else rank
        sd = {}
        for name in routed_module_names(tr):
            lin = mods[name]
            sd[f"transformer.{name}.lora_A.weight"] = torch.randn(r, lin.in_features) * 0.01
            sd[f"transformer.{name}.lora_B.weight"] = torch.zeros(lin.out_features, r)
        f = out / f"{kind}.safetensors"
        save_file(sd, str(f), metadata={"independent_conditions": "true"})
        pipe.load_genfocus_lora(f, kind)
    return pipe.to(device)


def run_row(pipe, name, size, steps, device, **kw):
    h, w = size
    image = torch.rand(1, 3, h, w)
    depth = 1.0 + torch.rand(1, 1, h, w) * 4
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    with torch.no_grad():
        pipe.refocus(image, focus=(w // 2, h // 2), K=20, depth=depth, num_inference_steps=steps,
                     generator=torch.Generator(device).manual_seed(0), **kw)
    if device == "cuda":
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device == "cuda" else float("nan")
    n = (h // 16) * (w // 16)
    tiled = use_tiling(h, w)
    tile_n = 1024 if tiled else n
    n_tiles = len(TilePlan(h // 16, w // 16).indices) if tiled else 1
    fast = kw.get("fast", False)
    cfg = pipe.transformer.config
    full = [[True] * 4] * 2 + [[True, True, True, False], [True, True, False, True]]
    per_forward = flux_forward_flops(cfg, [512, tile_n, tile_n, tile_n], full)
    if fast:  # steps after the first run text + latent only
        cached = flux_forward_flops(cfg, [512, tile_n], [[True, True], [True, True]]) + 4 * cfg.num_attention_heads \
            * cfg.attention_head_dim * (512 + tile_n) * 2 * tile_n * (cfg.num_layers + cfg.num_single_layers)
        flops = 2 * n_tiles * (per_forward + (steps - 1) * cached)
    else:
        flops = 2 * n_tiles * steps * per_forward
    return {"row": name, "size": f"{w}x{h}", "seconds": sec, "peak_gib": peak,
            "tokens_per_s": 2 * steps * n / sec, "tflops": flops / sec / 1e12}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny model on CPU (CI)")
    ap.add_argument("--size", action="append", help="WxH (default 1024x1024 and 2048x1536; tiny: 256x256)")
    ap.add_argument("--steps", type=int, default=None, help="steps per stage (default 28; tiny: 2)")
    ap.add_argument("--out", default="out/bench_pipeline")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    steps = args.steps or (2 if args.tiny else 28)
    sizes = [tuple(int(v) for v in s.lower().split("x"))[::-1] for s in
             (args.size or (["256x256"] if args.tiny else ["1024x1024", "2048x1536"]))]
    print(f"machine: {machine()}")
    pipe = build(args.tiny, device, dtype, out)
    rows_cfg = [("per-branch loop (compat)", dict(compat=True, attention="loop")),
                ("fused (compat)", dict(compat=True, attention="fused")),
                ("fast (KV cache)", dict(fast=True, tile_batch=4))]
    results = []
    for size in sizes:
        base = None
        for name, kw in rows_cfg:
            r = run_row(pipe, name, size, steps, device, **kw)
            base = base or r["seconds"]
            r["speedup_vs_loop"] = base / r["seconds"]
            results.append(r)
            print(f"{r['size']:>10} {name:28s} {r['seconds']:8.2f} s  peak {r['peak_gib']:6.2f} GiB  "
                  f"{r['tokens_per_s']:9.0f} tok/s  {r['tflops']:7.2f} TFLOP/s  ×{r['speedup_vs_loop']:.2f}")
    if device == "cuda":
        from genrefocus.models.acceleration import quantize_transformer

        quantize_transformer(pipe.transformer, "fp8")
        for size in sizes:
            r = run_row(pipe, "fast + FP8", size, steps, device, fast=True, tile_batch=4)
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
    lines = ["| size | configuration | s | peak GiB | tokens/s | TFLOP/s | × loop |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['row']} | {r['seconds']:.2f} | {r['peak_gib']:.2f} | {r['tokens_per_s']:.0f} | "
              f"{r['tflops']:.2f} | {r.get('speedup_vs_loop', float('nan')):.2f} |" for r in results]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    bar_chart(out / "times.png", [f"{r['size']} {r['row']}" for r in results], [r["seconds"] for r in results],
              f"seconds (deblur {steps} + bokeh {steps} steps)", figsize=(7, 3.5), horizontal=True)
    print(f"wrote {out / 'results.json'}, {out / 'table.md'}, {out / 'times.png'}")


if __name__ == "__main__":
    main()
