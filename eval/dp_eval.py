#!/usr/bin/env python3
"""Evaluate a UiD checkpoint: (a) refocusing exact scene-lab DP pairs to another layer — Eq. 13
against the physical renderer driven by the model's own AIF and disparity; (b) on the real DP
captures in ../shared/data/dp_pairs, the sign of the model's disparity against OpenCV SGBM.
Writes ``dp_eval.json`` and ``dp_eval.png`` (scene-lab rows: input | exact target | UiD | physical;
real rows: blurry | model disparity | SGBM disparity).

    python eval/dp_eval.py [--checkpoint genrefocus/weights/uid] [--data ../shared/data/dp_pairs] [--out runs/dp_eval]
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import machine  # noqa: E402
from genrefocus.io import save_image  # noqa: E402
from genrefocus.metrics.dual_pixel import dp_sign_consistency, scene_lab_refocus  # noqa: E402
from genrefocus.models.dp_model import UiDModel, load_dp_pair  # noqa: E402
from genrefocus.optics.dp_disparity import disparity_to_rgb  # noqa: E402
from genrefocus.pipelines.dual_pixel import DEFAULT_CHECKPOINT  # noqa: E402


def build_parser():
    ap = ArgumentParser(prog="dp_eval", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "dp_pairs"))
    ap.add_argument("--out", default="runs/dp_eval")
    ap.add_argument("--n", type=int, default=8, help="scene-lab pairs")
    return ap


@torch.no_grad()
def run(args) -> int:
    from genrefocus.io import check_output_dir
    from genrefocus.parsing import check_int

    check_int("--n", args.n, 1, 1000)
    check_output_dir(args.out, "--out")
    if not (Path(args.checkpoint) / "config.json").is_file():
        from genrefocus.errors import MissingWeightsError

        raise MissingWeightsError(f"--checkpoint: {args.checkpoint!r} is not a UiD checkpoint folder (no config.json)")
    model = UiDModel.from_pretrained(args.checkpoint)
    print("machine:", machine())
    rows, imgs = scene_lab_refocus(model, n=args.n, return_images=True)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("uid_psnr", "physical_psnr", "input_psnr")}
    print(f"scene-lab refocus to the foreground layer ({args.n} pairs, 64 px): UiD {mean['uid_psnr']:.2f} dB, "
          f"physical renderer (model AIF + disparity) {mean['physical_psnr']:.2f} dB, unchanged input "
          f"{mean['input_psnr']:.2f} dB; UiD − physical = {mean['uid_psnr'] - mean['physical_psnr']:+.2f} dB")
    grid = [torch.cat(r, -1) for r in imgs[:4]]
    real = {}
    if Path(args.data).is_dir():
        mult = 2 ** (model.config.stages - 1)
        for f in sorted(Path(args.data).glob("*.gif")):
            left, right = load_dp_pair(f)
            H, W = left.shape[-2:]
            left, right = (x[..., : H // mult * mult, : W // mult * mult] for x in (left, right))
            res = dp_sign_consistency(model, left, right)
            real[f.name] = {k: round(v, 3) for k, v in res.items() if isinstance(v, float)}
            print(f.name, json.dumps(real[f.name]))
            small = lambda t: F.interpolate(t, size=(64, 64 * t.shape[-1] // t.shape[-2]), mode="area")  # noqa: E731
            row = torch.cat([small((left + right) / 2), small(disparity_to_rgb(res["disparity"], 4)),
                             small(disparity_to_rgb(res["sgbm"], 4))], -1)
            grid.append(F.pad(row, (0, grid[0].shape[-1] - row.shape[-1])) if row.shape[-1] < grid[0].shape[-1]
                        else row[..., : grid[0].shape[-1]])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "dp_eval.json").write_text(json.dumps({"machine": machine(), "checkpoint": args.checkpoint,
                                                  "scene_lab": {"rows": rows, "mean": mean}, "real": real}, indent=2))
    save_image(torch.cat(grid, -2), out / "dp_eval.png")
    print("wrote", out / "dp_eval.json", out / "dp_eval.png")


def main(argv=None) -> int:
    return run_main("dp_eval", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
