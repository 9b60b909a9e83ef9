#!/usr/bin/env python3
"""Train a DeblurNet / BokehNet / aperture-shape LoRA on FLUX.1-dev.

    accelerate launch training/train_lora.py --config training/configs/bokehnet_synthetic.yaml
    accelerate launch training/train_lora.py --config ... --set max_steps=100 --set data.manifest=my.jsonl
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrefocus.errors import InputError, MissingWeightsError  # noqa: E402
from genrefocus.training import load_config  # noqa: E402
from genrefocus.training.trainer import train  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="YAML file (training/configs/*.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    ap.add_argument("--resume_from_checkpoint", default=None, help="'latest' or a checkpoint folder")
    ap.add_argument("--independent-conditions", action="store_true",
                    help="train for the KV-cache fast mode (conditions attend only to themselves)")
    args = ap.parse_args(argv)
    try:
        overrides = list(args.set)
        if args.resume_from_checkpoint:
            overrides.append(f"resume_from_checkpoint={args.resume_from_checkpoint}")
        if args.independent_conditions:
            overrides.append("independent_conditions=true")
        path = train(load_config(args.config, overrides))
    except (InputError, MissingWeightsError) as exc:
        print(f"train_lora: error: {exc}", file=sys.stderr)
        return 2
    if path is not None:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
