"""``genrefocus-data``: build training / evaluation sets with resumable JSONL manifests.

    genrefocus-data synthetic --source folder --input aif_photos/ --depth-dir depth/ --out data/syn
    genrefocus-data itw --input bokeh_photos/ --aif-dir aif/ --depth-dir depth/ --out data/itw
    genrefocus-data calibrate --source lfdof --input LFDOF/ --depth-dir depth/ --out data/lfdof
    genrefocus-data filter-sharp --source realbokeh --input RealBokeh_3MP/ --top 3000 --out data/sharp
    genrefocus-data pointlight --input night/ --out data/shape --apertures disk,heart,star
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from ..errors import InputError, MissingWeightsError
from ..parsing import parse_floats


def _items(args) -> list:
    from . import readers

    kw = {}
    if args.source in ("dpdd", "realbokeh", "ebb") and args.split:
        kw["split"] = args.split
    items = list(readers.READERS[args.source](args.input, **kw))
    return items[: args.limit] if args.limit else items


def _sources(args, out: Path):
    from .builders import Sources

    depth_estimator = segmenter = None
    if getattr(args, "depth_model", None):
        from ..perception import DepthPro

        depth_estimator = DepthPro.from_pretrained(args.depth_model)
    if getattr(args, "birefnet", None):
        from ..perception import BiRefNetSegmenter

        segmenter = BiRefNetSegmenter.from_pretrained(args.birefnet, trust_remote_code=args.trust_remote_code)
    deblur = None
    if getattr(args, "flux", None):  # DeblurNet for photos without a given AIF image
        import torch

        from ..models.tasks import LORA_FILES
        from ..pipelines.generative import GenRefocusPipeline, default_lora_dir

        lora = Path(args.lora_dir or default_lora_dir()) / LORA_FILES["deblur"]
        device = "cuda" if torch.cuda.is_available() else "cpu"
        pipe = GenRefocusPipeline.from_pretrained(args.flux, deblur_lora=lora, prompt_cache=args.prompt_cache,
                                                  dtype=torch.bfloat16 if device == "cuda" else torch.float32)
        pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        deblur = lambda photo: pipe.deblur(photo).aif  # noqa: E731
    return Sources(depth_dir=getattr(args, "depth_dir", None), mask_dir=getattr(args, "mask_dir", None),
                   aif_dir=getattr(args, "aif_dir", None), depth_estimator=depth_estimator, segmenter=segmenter,
                   deblur=deblur, cache_dir=out)


def run(args) -> int:
    from . import builders
    from .manifest import ManifestBuilder, write_shards

    out = Path(args.out)
    items = _items(args)
    if not items:
        raise InputError("--input", f"no items found for source {args.source!r} in {args.input!r}")
    cmd = args.command
    if cmd == "synthetic":
        proc = builders.synthetic(out, _sources(args, out), parse_floats(args.k_range, 2, "--k-range"),
                                  args.apertures.split(","), args.renderer, args.variants, args.seed)
    elif cmd == "itw":
        proc = builders.itw(out, _sources(args, out))
    elif cmd == "calibrate":
        proc = builders.calibrate(out, _sources(args, out), parse_floats(args.k_range, 2, "--k-range"), args.threshold,
                                  args.max_side)
    elif cmd == "filter-sharp":
        proc = builders.sharpness_score()
    else:
        proc = builders.pointlight(out, args.apertures.split(","), parse_floats(args.k_range, 2, "--k-range"),
                                   args.min_lights, args.variants, args.seed)
    mb = ManifestBuilder(out, name="scores" if cmd == "filter-sharp" else "manifest")
    counts = mb.run(items, proc, workers=args.workers, desc=cmd)
    records = mb.records()
    if cmd == "filter-sharp":  # keep the top N by Laplacian variance
        records = sorted(records, key=lambda r: (-r["lv"], r["id"]))[: args.top]
        ManifestBuilder(out, name="manifest").finalize(sorted(records, key=lambda r: r["id"]))
    if args.shards:
        write_shards(records, out / "shards", per_shard=args.shards)
    print(f"{cmd}: {len(records)} records in {out / 'manifest.jsonl'} (new {counts['ok']}, already done "
          f"{counts['done_before']}, skipped {counts['skipped']}, failed {counts['failed']}; reasons in "
          f"{out / 'errors.jsonl'})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .readers import READERS

    p = argparse.ArgumentParser(prog="genrefocus-data", description="Build datasets with JSONL manifests.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (("synthetic", "AIF + depth → random K / focus / aperture → rendered pairs"),
                           ("itw", "real bokeh photos + EXIF → K by the thin-lens model"),
                           ("calibrate", "paired real data → K by simulator-in-the-loop SSIM search"),
                           ("filter-sharp", "rank by Laplacian variance, keep the top N"),
                           ("pointlight", "point-light-rich images through shaped apertures")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--source", default="folder", choices=sorted(READERS))
        s.add_argument("--input", required=True, help="dataset root or image folder")
        s.add_argument("--split", default=None, help="split for dpdd / realbokeh / ebb")
        s.add_argument("--out", required=True)
        s.add_argument("--workers", type=int, default=1)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--limit", type=int, default=None, help="first N items only")
        s.add_argument("--shards", type=int, default=0, help="also write webdataset tar shards of N samples")
        if name in ("synthetic", "itw", "calibrate"):
            s.add_argument("--depth-dir", help="metric depth <id>.npy per item")
            s.add_argument("--depth-model", help="Depth Pro folder / hub id when no depth file exists")
        if name in ("itw", "calibrate"):
            s.add_argument("--mask-dir", help="in-focus masks <id>.png (manual masks override the model)")
            s.add_argument("--birefnet", help="BiRefNet folder / hub id for in-focus masks")
            s.add_argument("--trust-remote-code", action="store_true", help="allow BiRefNet's Hub code to run")
        if name == "itw":
            s.add_argument("--aif-dir", help="all-in-focus images <id>.png (else DeblurNet with --flux)")
            s.add_argument("--flux", help="FLUX.1-dev folder: run DeblurNet for photos without an AIF image")
            s.add_argument("--lora-dir", help="folder with deblurNet.safetensors")
            s.add_argument("--prompt-cache", help="cached prompt embeddings (no T5/CLIP)")
        if name in ("synthetic", "calibrate", "pointlight"):
            s.add_argument("--k-range", default={"calibrate": "0,100", "pointlight": "10,30"}.get(name, "5,40"))
        if name in ("synthetic", "pointlight"):
            s.add_argument("--apertures", default="disk" if name == "synthetic" else "disk,polygon:6,heart,star")
            s.add_argument("--variants", type=int, default=1)
        if name == "synthetic":
            s.add_argument("--renderer", default="fast", choices=["fast", "layered", "bokehme"])
        if name == "calibrate":
            s.add_argument("--threshold", type=float, default=0.8)
            s.add_argument("--max-side", type=int, default=512)
        if name == "filter-sharp":
            s.add_argument("--top", type=int, required=True)
        if name == "pointlight":
            s.add_argument("--min-lights", type=int, default=20)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (InputError, MissingWeightsError) as exc:
        print(f"genrefocus-data: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
