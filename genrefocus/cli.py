"""``genrefocus`` command line: ``demo`` and ``render`` (physical renderer)."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Optional, Sequence

from .errors import InputError, MissingWeightsError


def _floats(text: str, n: int, name: str) -> tuple:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(name, f"expected {n} comma-separated numbers, got {text!r}") from None
    if len(vals) != n:
        raise InputError(name, f"expected {n} comma-separated numbers, got {text!r}")
    return vals


def _cmd_demo(args) -> int:
    from .demo import run_demo

    print(run_demo(args.output, mode=args.mode))
    return 0


def _cmd_render(args) -> int:
    import torch

    from .io import load_depth, load_disparity, load_image, load_mask, save_image
    from .pipelines.physical import PhysicalRefocusPipeline

    image = load_image(args.image, name="image")
    kw = {}
    if args.depth:
        kw["depth"] = load_depth(args.depth)
    else:
        kw["disparity"] = load_disparity(args.disparity, png_8bit=args.png_8bit)
    H, W = image.shape[-2:]
    if args.focus:
        kw["focus_point"] = _floats(args.focus, 2, "--focus")
    elif args.mask:
        kw["focus_mask"] = load_mask(args.mask)
    elif args.box:
        kw["focus_box"] = _floats(args.box, 4, "--box")
    elif args.focus_disparity is not None:
        kw["focus_disparity_value"] = args.focus_disparity
    gamma = args.gamma if args.gamma == "srgb" else float(args.gamma)
    device = args.device
    if device and device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device", f"{device} requested but no CUDA GPU is available; use --device cpu")
    pipe = PhysicalRefocusPipeline(mode=args.mode, gamma=gamma, device=device)
    with torch.no_grad():
        out = pipe(image, K=args.K, aperture=args.aperture, progress=True, **kw)
    path = save_image(out.image, args.output)
    print(f"{path}  ({W}×{H}, mode={args.mode}, K={out.K:g}, focus disparity={out.focus_disparity:.4g})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genrefocus", description="Refocus one photo: a virtual camera.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="refocus scikit-image's motorcycle (no downloads) and write a PNG grid")
    d.add_argument("-o", "--output", default="genrefocus_demo.png")
    d.add_argument("--mode", default="fast", choices=["fast", "layered", "bokehme"])
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser("render", help="physical bokeh rendering from an image and its depth/disparity")
    r.add_argument("image")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--depth", help="metric depth .npy/.pfm (m)")
    src.add_argument("--disparity", help="disparity .npy/.pfm (as given) or PNG (min–max normalized)")
    foc = r.add_mutually_exclusive_group()
    foc.add_argument("--focus", help="focus point x,y (pixels of the input image)")
    foc.add_argument("--mask", help="in-focus mask image")
    foc.add_argument("--box", help="focus box x0,y0,x1,y1 (pixels)")
    foc.add_argument("--focus-disparity", type=float, help="focus disparity value")
    r.add_argument("--K", type=float, default=20.0, help="bokeh level (px per unit disparity)")
    r.add_argument("--aperture", default="disk", help="disk | polygon:N[:ROT] | heart | star[:N] | PATH.png")
    r.add_argument("--gamma", default="4", help="linearization exponent or 'srgb' (default 4, BokehMe)")
    r.add_argument("--mode", default="fast", choices=["bokehme", "fast", "layered"])
    r.add_argument("--png-8bit", action="store_true", help="read a 16-bit disparity PNG as 8 bit (BokehMe)")
    r.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cpu)")
    r.add_argument("-o", "--output", required=True)
    r.set_defaults(func=_cmd_render)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.simplefilter("default")
    try:
        return args.func(args)
    except (InputError, MissingWeightsError) as exc:
        print(f"genrefocus: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
