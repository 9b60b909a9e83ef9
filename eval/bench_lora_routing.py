#!/usr/bin/env python3
"""Cost of extra loaded LoRA adapters in one multi-branch step (FLUX.1-dev width, CPU-sized depth).

Only the adapter routed to a branch runs (``route_lora``), so loading the deblur LoRA next to the
bokeh one must not slow a bokeh step. The run times one step with the bokeh adapter alone and with
both loaded (ratio ≈ 1.00 expected; peft's own routing, which evaluates every loaded adapter and
scales the others by 0, cost +15–17 %), and prints the FLOPs of the step.

    python eval/bench_lora_routing.py [--blocks 1] [--tile 32] [--repeats 3]
"""

import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import machine, timed  # noqa: E402
from genrefocus.models.branches import Branch, group_mask, multibranch_forward  # noqa: E402
from genrefocus.models.flops import multibranch_flops  # noqa: E402
from genrefocus.models.flux_configs import FLUX_DEV, TINY_VAE  # noqa: E402
from genrefocus.pipelines.random_weights import random_pipeline  # noqa: E402


def build_parser():
    ap = ArgumentParser(prog="bench_lora_routing", description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=1, help="double + single blocks at FLUX.1-dev width")
    ap.add_argument("--tile", type=int, default=32, help="latent tokens per side (32 = a 512² tile)")
    ap.add_argument("--repeats", type=int, default=3)
    return ap


@torch.no_grad()
def run(args) -> int:
    from genrefocus.parsing import check_int

    check_int("--blocks", args.blocks, 1, 57)
    check_int("--tile", args.tile, 1, 256)
    check_int("--repeats", args.repeats, 1, 100)
    cfg = dict(FLUX_DEV, num_layers=args.blocks, num_single_layers=args.blocks)
    d = Path(tempfile.mkdtemp())
    one = random_pipeline(cfg, TINY_VAE, lora_dir=d / "one", loras={"bokeh": dict(rank=64, scale=0.01)})
    two = random_pipeline(cfg, TINY_VAE, lora_dir=d / "two", loras={"bokeh": dict(rank=64, scale=0.01),
                                                                    "deblur": dict(rank=128, scale=0.01)})
    n, g = args.tile ** 2, torch.Generator().manual_seed(0)
    x, c1, c2 = (torch.randn(1, n, 64, generator=g) for _ in range(3))
    txt, pooled = torch.randn(1, 512, 4096, generator=g), torch.randn(1, 768, generator=g)
    ids, tids = torch.zeros(n, 3), torch.zeros(512, 3)
    t, gd = torch.tensor([0.5]), torch.ones(1)
    branches = [Branch(x, ids, t, gd), Branch(c1, ids, 0 * t, gd, "bokeh"), Branch(c2, ids, 0 * t, gd, "bokeh")]

    def step(pipe):
        return lambda: multibranch_forward(pipe.transformer, Branch(txt, tids, t, gd), branches, pooled, group_mask(2))

    print(f"machine: {machine()}")
    _, t1 = timed(step(one), repeats=args.repeats, warmup=1)
    _, t2 = timed(step(two), repeats=args.repeats, warmup=1)
    flops = multibranch_flops(one.transformer.config, [512, n, n, n], group_mask(2), [None, None, 64, 64],
                              attention="dense")
    print(f"one step, FLUX.1-dev width, {args.blocks}+{args.blocks} blocks, {n}-token tile, 2 conditions: "
          f"{flops / 1e9:.0f} GFLOP")
    print(f"bokeh adapter only: {t1:.2f} s; bokeh + deblur adapters loaded: {t2:.2f} s; ratio {t2 / t1:.3f}")


def main(argv=None) -> int:
    return run_main("bench_lora_routing", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
