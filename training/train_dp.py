#!/usr/bin/env python3
"""Train the UiD dual-pixel refocus model on exact scene-lab DP pairs.

    accelerate launch training/train_dp.py --steps 20000 --size 128 --out runs/uid
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrefocus.training.dp import DPTrainConfig, train_dp  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/uid")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--stages", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(train_dp(DPTrainConfig(output_dir=args.out, steps=args.steps, batch_size=args.batch_size, size=args.size,
                                 learning_rate=args.lr, seed=args.seed, model={"stages": args.stages})))


if __name__ == "__main__":
    main()
