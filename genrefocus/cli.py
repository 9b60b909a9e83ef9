"""``genrefocus`` command line: ``demo``, ``render`` (physical renderer), ``deblur`` / ``bokeh`` /
``refocus`` (generative pipeline)."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

from .errors import InputError, MissingWeightsError
from .parsing import parse_floats


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
        kw["focus_point"] = parse_floats(args.focus, 2, "--focus")
    elif args.mask:
        kw["focus_mask"] = load_mask(args.mask)
    elif args.box:
        kw["focus_box"] = parse_floats(args.box, 4, "--box")
    elif args.focus_disparity is not None:
        kw["focus_disparity_value"] = args.focus_disparity
    gamma = args.gamma if args.gamma == "srgb" else float(args.gamma)
    device = _check_device(args.device) if args.device else None
    pipe = PhysicalRefocusPipeline(mode=args.mode, gamma=gamma, device=device)
    with torch.no_grad():
        out = pipe(image, K=args.K, aperture=args.aperture, progress=True, **kw)
    path = save_image(out.image, args.output)
    print(f"{path}  ({W}×{H}, mode={args.mode}, K={out.K:g}, focus disparity={out.focus_disparity:.4g})")
    return 0


def _load_generative(args, kinds):
    import torch

    from .models.tasks import LORA_FILES
    from .pipelines.generative import GenRefocusPipeline, default_lora_dir

    device = _check_device(args.device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[
        args.dtype or ("bf16" if device.startswith("cuda") else "fp32")]
    lora_dir = Path(args.lora_dir) if args.lora_dir else default_lora_dir()
    loras = {f"{k}_lora": lora_dir / LORA_FILES[k] for k in kinds}
    pipe = GenRefocusPipeline.from_pretrained(args.model, dtype=dtype, prompt_cache=args.prompt_cache,
                                              deblur_lora_layout=args.deblur_layout, **loras)
    if args.quantize:
        from .models.acceleration import quantize_transformer

        quantize_transformer(pipe.transformer, args.quantize)
    if args.offload:
        pipe.enable_model_cpu_offload()
    else:
        pipe.to(device)
    if args.vae_tiling:
        pipe.vae.enable_tiling()
    if args.compile:
        from .models.acceleration import compile_blocks

        pipe.block_functions = compile_blocks()
    if getattr(args, "depth_model", None):
        from .perception import DepthPro

        pipe.depth_estimator = DepthPro.from_pretrained(args.depth_model, device=device)
    return pipe, device


def _check_device(device: Optional[str]) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError("--device", f"{device!r} is not a device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device", f"{device} requested but no CUDA GPU is available; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise InputError("--device", f"{device!r}: only cpu and cuda are supported")
    return str(dev)


def _focus(args, first_input):
    """The focus of a bokeh/refocus command (mask as 8-bit grey, the official rule; point; box)."""
    from .io import load_mask_u8

    if args.mask:
        return load_mask_u8(args.mask, name="--mask")
    pt = parse_floats(args.point, 2, "--point") if args.point else None
    box = parse_floats(args.box, 4, "--box") if args.box else None
    if (pt or box) and args.sam_model:
        from .io import load_image
        from .perception import SamPrompter

        sam = SamPrompter.from_pretrained(args.sam_model)
        return sam(load_image(first_input), point=pt, box=box)[0, 0].numpy()
    return pt or box


def _inputs(path: str) -> list:
    p = Path(path)
    if p.is_dir():
        exts = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in exts)
        if not files:
            raise InputError("--input", f"folder {path!r} holds no images")
        return files
    return [p]


def _sampler_options(args, split):
    """One SamplerOptions for the whole run: the official behaviour with --compat, else ours;
    explicit flags override either; tiles are split across processes only for a single image."""
    from .pipelines.options import SamplerOptions

    overrides = {}
    if args.attention:
        overrides["attention"] = args.attention
    if args.disable_tiling:
        overrides["tiling"] = False
    if args.tile_batch is not None:
        overrides["tile_batch"] = args.tile_batch
    if args.fast:
        overrides["independent_conditions"] = True
    if split is not None:
        overrides["tile_split"] = split
    return SamplerOptions.compat(**overrides) if args.compat else SamplerOptions(**overrides)


def _cmd_generative(args) -> int:
    import torch

    from .io import check_output_path, load_depth, load_image, save_image
    from .optics.defocus import validate_k
    from .pipelines.distributed import ProcessSplit

    pre_path = getattr(args, "pre_deblur_input", None)
    deblur_kind = "pre_deblur" if pre_path else "deblur"
    kinds = {"deblur": [deblur_kind], "bokeh": ["bokeh"], "refocus": [deblur_kind, "bokeh"]}[args.command]
    # 1. every input and output checked before any model is loaded
    files = _inputs(args.input)
    many = Path(args.input).is_dir()
    for f in files:
        load_image(f, name=str(f))
    targets = [Path(args.output) / f"{f.stem}.png" for f in files] if many else [Path(args.output)]
    for t in targets:
        check_output_path(t, name="--output")
    if args.steps < 1:
        raise InputError("--steps", f"must be ≥ 1, got {args.steps}")
    if args.compat and args.seed is not None:
        raise InputError("--seed", "--compat draws with the official seeds (42 and 1234); drop --seed or --compat")
    K = validate_k(args.k_value) if hasattr(args, "k_value") else None
    depth = load_depth(args.depth) if getattr(args, "depth", None) else None
    focus = _focus(args, files[0]) if args.command != "deblur" else None
    pre = load_image(pre_path, name="--pre_deblur_input") if pre_path else None
    launch = ProcessSplit.from_launch()
    split_images = many and launch.world_size > 1
    options = _sampler_options(args, launch if launch.world_size > 1 and not many else None)
    # 2. models
    pipe, device = _load_generative(args, kinds)
    seed = 42 if args.seed is None else args.seed
    common = dict(num_inference_steps=args.steps, long_side=args.long_side, options=options)
    written = []
    mine = launch.split_items(list(zip(files, targets))) if split_images else list(zip(files, targets))
    for f, target in mine:
        image = load_image(f, name=str(f))
        gen = None if args.compat else torch.Generator(device=device).manual_seed(seed)
        with torch.no_grad():
            if args.command == "deblur":
                out = pipe.deblur(image, pre, generator=gen, **common).aif
            elif args.command == "bokeh":
                out = pipe.bokeh(image, depth, focus=focus, K=K, aperture=args.aperture, generator=gen, **common).image
            else:
                out = pipe.refocus(image, focus=focus, K=K, depth=depth, pre_deblurred=pre, aperture=args.aperture,
                                   generator=gen, **common).image
        written.append(str(save_image(out, target)))
    if split_images:
        written = launch.gather_items(written)
    if launch.is_main:
        for w in written:
            print(w)
    return 0


def _cmd_dp_refocus(args) -> int:
    import numpy as np

    from .io import load_mask, save_image
    from .pipelines.dual_pixel import DPRefocusPipeline, TextBoxDetector

    sam = None
    if args.sam_model:
        from .perception import SamPrompter

        sam = SamPrompter.from_pretrained(args.sam_model)
    detector = TextBoxDetector.from_pretrained(args.owlv2_model) if args.text else None
    pipe = DPRefocusPipeline.from_pretrained(args.checkpoint, sam=sam, text_detector=detector)
    kw = {}
    if args.mask:
        kw["mask"] = load_mask(args.mask)[0, 0]
    elif args.point:
        kw["point"] = parse_floats(args.point, 2, "--point")
    elif args.box:
        kw["box"] = parse_floats(args.box, 4, "--box")
    elif args.text:
        kw["text"] = args.text
    out = pipe(args.input if args.input else args.left, None if args.input else args.right, **kw)
    print(save_image(out.refocused, args.output))
    if args.aif_output:
        print(save_image(out.aif, args.aif_output))
    if args.disparity_output:
        path = Path(args.disparity_output)
        if path.suffix.lower() == ".npy":
            from .data.manifest import atomic_save_npy

            print(atomic_save_npy(path, out.disparity[0, 0].numpy().astype(np.float32)))
        else:
            from .optics.dp_disparity import disparity_to_rgb

            print(save_image(disparity_to_rgb(out.disparity), path))
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

    for name, helptext in (("deblur", "all-in-focus image with DeblurNet (FLUX.1-dev + LoRA)"),
                           ("bokeh", "new depth of field from an all-in-focus image with BokehNet"),
                           ("refocus", "deblur → depth → bokeh in one go")):
        g = sub.add_parser(name, help=helptext)
        g.add_argument("--input", required=True, help="an image, or a folder (split across accelerate processes)")
        g.add_argument("--output", "-o", required=True, help="output image, or a folder when --input is one")
        g.add_argument("--model", default="black-forest-labs/FLUX.1-dev", help="FLUX.1-dev folder or hub id")
        g.add_argument("--lora-dir", default=None, help="folder with the official LoRA files "
                                                         "(default $GENREFOCUS_LORA_DIR or ./weights)")
        g.add_argument("--prompt-cache", default=None, help="safetensors of cached prompt embeddings (no T5/CLIP)")
        g.add_argument("--steps", type=int, default=28)
        g.add_argument("--long_side", type=int, default=None, help="resize the long side before processing")
        g.add_argument("--disable_tiling", action="store_true")
        g.add_argument("--compat", action="store_true",
                       help="the official Genfocus code's behaviour and seeds (SamplerOptions.compat())")
        g.add_argument("--seed", type=int, default=None, help="noise seed (default 42; not with --compat)")
        g.add_argument("--deblur-layout", choices=["one_condition", "two_conditions"], default="one_condition",
                       help="condition layout of deblurNet.safetensors: the current release (one_condition) or "
                            "the first one, before 2026-03-11 (two_conditions)")
        g.add_argument("--device", default=None)
        g.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default=None)
        g.add_argument("--attention", choices=["fused", "loop"], default=None,
                       help="fused (default) or the official per-branch loop (default with --compat)")
        g.add_argument("--fast", action="store_true", help="condition KV cache (LoRAs trained with "
                                                           "independent conditions only)")
        g.add_argument("--tile-batch", type=int, default=None, help="tiles per transformer call (default 1)")
        g.add_argument("--quantize", choices=["int8", "fp8"], default=None, help="torchao weight quantization")
        g.add_argument("--offload", action="store_true", help="model CPU offload (diffusers)")
        g.add_argument("--vae-tiling", action="store_true", help="tiled VAE decode (large images)")
        g.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks")
        if name in ("deblur", "refocus"):
            g.add_argument("--pre_deblur_input", default=None, help="pre-deblurred image (pre-deblur LoRA)")
        if name in ("bokeh", "refocus"):
            foc = g.add_mutually_exclusive_group()
            foc.add_argument("--mask", help="in-focus mask image")
            foc.add_argument("--point", help="focus point x,y (input pixels)")
            foc.add_argument("--box", help="focus box x0,y0,x1,y1 (input pixels)")
            g.add_argument("--depth", help="metric depth .npy/.pfm (m); else Depth Pro (--depth-model)")
            g.add_argument("--k_value", type=float, default=15.0 if name == "bokeh" else 20.0,
                           help="bokeh level K (default: the official bokeh CLI's 15, the demo's 20 for refocus)")
            g.add_argument("--aperture", default=None, help="aperture shape (needs the shape LoRA)")
            g.add_argument("--depth-model", default=None, help="Depth Pro folder or hub id (apple/DepthPro-hf)")
            g.add_argument("--sam-model", default=None, help="SAM folder: turn --point/--box into a mask")
        else:
            g.add_argument("--depth-model", default=None, help=argparse.SUPPRESS)
        g.set_defaults(func=_cmd_generative)

    dp = sub.add_parser("dp-refocus", help="refocus a dual-pixel capture with the UiD model")
    src = dp.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="one 2-frame file (GIF/TIFF: frames 0 and 1 are the DP views)")
    src.add_argument("--left", help="left view (with --right)")
    dp.add_argument("--right")
    foc = dp.add_mutually_exclusive_group(required=True)
    foc.add_argument("--mask")
    foc.add_argument("--point", help="x,y")
    foc.add_argument("--box", help="x0,y0,x1,y1")
    foc.add_argument("--text", help="a text prompt (OWLv2 box → SAM)")
    dp.add_argument("--checkpoint", default=None, help="UiD checkpoint folder (default: the shipped one)")
    dp.add_argument("--sam-model", default=None)
    dp.add_argument("--owlv2-model", default="google/owlv2-base-patch16-ensemble")
    dp.add_argument("--aif-output", default=None)
    dp.add_argument("--disparity-output", default=None,
                    help="signed DP disparity: .npy (px, float32) or an image (red in front, blue behind)")
    dp.add_argument("-o", "--output", required=True)
    dp.set_defaults(func=_cmd_dp_refocus)
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
