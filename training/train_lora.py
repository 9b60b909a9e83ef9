#!/usr/bin/env python3
"""Train a DeblurNet / BokehNet / aperture-shape LoRA on FLUX.1-dev.

    accelerate launch training/train_lora.py --config training/configs/bokehnet_synthetic.yaml
    accelerate launch training/train_lora.py --config ... --set max_steps=100 --set data.manifest=my.jsonl
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrefocus.entry import ArgumentParser, run_main  # noqa: E402


def build_parser():
    ap = ArgumentParser(prog="train_lora", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="YAML file (training/configs/*.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    ap.add_argument("--resume_from_checkpoint", default=None, help="'latest' or a checkpoint folder")
    ap.add_argument("--independent-conditions", action="store_true",
                    help="train for the KV-cache fast mode (conditions attend only to themselves)")
    ap.add_argument("--allow-download", action="store_true", help="let a missing Hub model download")
    return ap


def run(args) -> int:
    from genrefocus.training import load_config
    from genrefocus.training.trainer import train

    overrides = list(args.set)
    if args.resume_from_checkpoint:
        overrides.append(f"resume_from_checkpoint={args.resume_from_checkpoint}")
    if args.independent_conditions:
        overrides.append("independent_conditions=true")
    if args.allow_download:
        overrides.append("allow_download=true")
    path = train(load_config(args.config, overrides))
    if path is not None:
        print(path)
    return 0


def main(argv=None) -> int:
    return run_main("train_lora", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
