#!/usr/bin/env python3
"""Train JDRL's deblurring model from misaligned pairs (see genrefocus.training.jdrl).

    accelerate launch training/train_jdrl.py --out runs/jdrl --steps 2000
    python training/train_jdrl.py --loss l1 --out runs/jdrl_l1        # the ablation's plain-L1 variant
    python training/train_jdrl.py --out runs/jdrl --resume latest      # continue a killed run
    python training/train_jdrl.py --data dpdd:/data/DPDD --init-from genrefocus/weights/jdrl --lr 1e-4 \
        --out runs/jdrl_dpdd                                             # fine-tune on real pairs
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402


def build_parser():
    from genrefocus.training.loop import add_loop_arguments

    ap = ArgumentParser(prog="train_jdrl", description=__doc__.splitlines()[0])
    add_loop_arguments(ap, out="runs/jdrl", steps=2000, batch_size=4, size=96, lr=5e-4)
    ap.add_argument("--loss", choices=["jdrl", "l1"], default="jdrl")
    ap.add_argument("--coc-max", type=float, default=8.0)
    ap.add_argument("--shift-max", type=float, default=2.0, help="misalignment of the synthetic pairs (px)")
    ap.add_argument("--flow", choices=["dis", "farneback"], default="dis")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--backbone", choices=["unet", "restormer", "mprnet"], default="unet",
                    help="F_D: residual-conv U-Net (CPU), Restormer transformer blocks or multi-stage MPRNet (GPU)")
    ap.add_argument("--blocks", type=int, default=1, help="blocks per encoder/decoder level")
    ap.add_argument("--data", default="synthetic",
                    help="synthetic (default) or real pairs: dpdd:ROOT, realdof:ROOT, sdd:ROOT")
    return ap


def run(args) -> int:
    from genrefocus.io import check_output_dir
    from genrefocus.training.jdrl import JDRLTrainConfig, train_jdrl
    from genrefocus.training.loop import loop_config

    check_output_dir(args.out, "--out")
    cfg = JDRLTrainConfig(**loop_config(args), loss=args.loss, coc_max=args.coc_max, shift_max=args.shift_max,
                          flow=args.flow, data=args.data,
                          model={"width": args.width, "backbone": args.backbone, "blocks": args.blocks})
    print(train_jdrl(cfg))
    return 0


def main(argv=None) -> int:
    return run_main("train_jdrl", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
