#!/usr/bin/env python3
"""Train the UiD dual-pixel refocus model (scene-lab DP pairs, DP synthesis from AIF + depth, DPDD).

    accelerate launch training/train_dp.py --steps 20000 --size 128 --out runs/uid
    python training/train_dp.py --sources scene_lab aif_depth:data/synth/manifest.jsonl dpdd:/data/DPDD
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrefocus.entry import ArgumentParser, run_main  # noqa: E402


def build_parser():
    ap = ArgumentParser(prog="train_dp", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/uid")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sources", nargs="+", default=["scene_lab"],
                    help="scene_lab | aif_depth:<manifest.jsonl> | dpdd:<root> (one source per step, drawn at random)")
    ap.add_argument("--scene-cache", type=int, default=0, help="render N scene-lab samples once and reuse them")
    ap.add_argument("--k-range", type=float, nargs=2, default=(2.0, 6.0), help="bokeh level K range (px·m)")
    ap.add_argument("--lam-disp", type=float, default=0.5)
    ap.add_argument("--softness-max", type=float, default=0.0, help="smooth DP split τ range (aperture radii)")
    ap.add_argument("--lam-refocus", type=float, default=1.0)
    ap.add_argument("--init-from", default=None, help="continue from a checkpoint folder")
    ap.add_argument("--stages", type=int, default=4)
    ap.add_argument("--feat", type=int, default=16)
    ap.add_argument("--cost", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--max-disp", type=int, default=4)
    ap.add_argument("--kernel-size", type=int, default=5)
    ap.add_argument("--variant", default="full", choices=["full", "v1", "v2"], help="invertible block (appendix)")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--checkpointing-steps", type=int, default=500, help="checkpoint every N steps (0: never)")
    ap.add_argument("--checkpoints-total-limit", type=int, default=2)
    ap.add_argument("--resume_from_checkpoint", "--resume", default=None, help="'latest' or a checkpoint folder")
    return ap


def run(args) -> int:
    from genrefocus.training.dp import DPTrainConfig, train_dp

    cfg = DPTrainConfig(output_dir=args.out, steps=args.steps, batch_size=args.batch_size, size=args.size,
                        learning_rate=args.lr, warmup=args.warmup, seed=args.seed, sources=tuple(args.sources),
                        scene_cache=args.scene_cache, k_range=tuple(args.k_range), lam_disp=args.lam_disp,
                        lam_refocus=args.lam_refocus, init_from=args.init_from, log_every=args.log_every,
                        softness_max=args.softness_max,
                        model={"stages": args.stages, "feat": args.feat, "cost": args.cost, "hidden": args.hidden,
                               "max_disp": args.max_disp, "kernel_size": args.kernel_size, "variant": args.variant},
                        checkpointing_steps=args.checkpointing_steps, checkpoints_total_limit=args.checkpoints_total_limit,
                        resume_from_checkpoint=args.resume_from_checkpoint)
    print(train_dp(cfg))
    return 0


def main(argv=None) -> int:
    return run_main("train_dp", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
