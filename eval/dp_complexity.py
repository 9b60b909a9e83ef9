#!/usr/bin/env python3
"""Parameter count and GFLOPs of the UiD model at 1680×1120 (paper anchor: 3.12 M params, 495 GFLOPs).

FLOPs are counted with torch.utils.flop_counter on a 420×280 forward (deblur + reblur) and scaled by
the pixel ratio (every layer is convolutional, so the count is linear in the number of pixels).

    python eval/dp_complexity.py [--checkpoint runs/uid]
"""

import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.models.uid import UiDModel  # noqa: E402


def build_parser():
    ap = ArgumentParser(prog="dp_complexity", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None)
    return ap


def run(args) -> int:
    if args.checkpoint and not (Path(args.checkpoint) / "config.json").is_file():
        from genrefocus.errors import MissingWeightsError

        raise MissingWeightsError(f"--checkpoint: {args.checkpoint!r} is not a UiD checkpoint folder (no config.json)")
    model = UiDModel.from_pretrained(args.checkpoint) if args.checkpoint else UiDModel()
    params = sum(p.numel() for p in model.parameters())
    h, w = 280, 424  # multiple of 8, ≈ 1/4 of 1680×1120 per side
    x = torch.rand(1, 3, h, w)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x, x)
    gflops = fc.get_total_flops() / 2 / 1e9 * (1680 * 1120) / (h * w)  # MACs-style count, as papers report
    print(f"UiD params: {params / 1e6:.3f} M (paper 3.12 M)")
    print(f"UiD GFLOPs at 1680×1120 (multiply-accumulates): {gflops:.1f} (paper 495)")


def main(argv=None) -> int:
    return run_main("dp_complexity", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
