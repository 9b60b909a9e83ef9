#!/usr/bin/env python3
"""Train DPDeblurNet on synthetic dual-pixel pairs (CPU-friendly; see genrefocus.training.dp_deblur).

    accelerate launch training/train_dp_deblur.py --out runs/dp_deblur --steps 6000
    python training/train_dp_deblur.py --out runs/dp_deblur --resume latest      # continue a killed run
    python training/train_dp_deblur.py --data dpdd:/data/DPDD --init-from genrefocus/weights/dp_deblur \
        --lr 2e-4 --steps 4000 --out runs/dp_deblur_dpdd                      # fine-tune on real DPDD pairs
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402


def build_parser():
    from genrefocus.training.loop import add_loop_arguments

    ap = ArgumentParser(prog="train_dp_deblur", description=__doc__.splitlines()[0])
    add_loop_arguments(ap, out="runs/dp_deblur", steps=6000, batch_size=8, size=96, lr=1e-3)
    ap.add_argument("--coc-max", type=float, default=12.0, help="largest CoC radius of the synthetic pairs (px)")
    ap.add_argument("--lam-disp", type=float, default=0.05)
    ap.add_argument("--lam-fft", type=float, default=0.0,
                    help="weight of an L1 on the AIF's Fourier coefficients (MIMO-UNet's frequency loss; 0: off)")
    ap.add_argument("--lens-psf", type=float, default=0.0,
                    help="fraction of synthetic pairs blurred with a real lens's rim-bright, soft-edged PSF "
                         "(Abuolaim et al. 2021) instead of a flat disk")
    ap.add_argument("--green", type=float, default=0.0,
                    help="fraction of green-only (grey) synthetic pairs, as Pixel phones capture their DP views")
    ap.add_argument("--softness-max", type=float, default=1.0,
                    help="largest photodiode split softness τ of the synthetic pairs (τ ~ U(0.15, max); DP disparity "
                         "per CoC radius 0.76 at τ 0.15, 0.43 at 0.5, 0.24 at 1.0; a real Canon DSLR measures 0.34)")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--scales", type=int, default=3)
    ap.add_argument("--data", default="synthetic", help="synthetic (default) or dpdd:ROOT (real dual-pixel captures)")
    return ap


def run(args) -> int:
    from genrefocus.io import check_output_dir
    from genrefocus.training.dp_deblur import DPDeblurTrainConfig, train_dp_deblur
    from genrefocus.training.loop import loop_config

    check_output_dir(args.out, "--out")
    cfg = DPDeblurTrainConfig(**loop_config(args), coc_max=args.coc_max, lam_disp=args.lam_disp, lam_fft=args.lam_fft,
                              lens_psf=args.lens_psf, green=args.green,
                              softness_max=args.softness_max,
                              model={"width": args.width, "scales": args.scales}, data=args.data)
    print(train_dp_deblur(cfg))
    return 0


def main(argv=None) -> int:
    return run_main("train_dp_deblur", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
