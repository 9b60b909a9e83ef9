#!/usr/bin/env python3
"""Benchmark `genrefocus-data synthetic`: samples/s at 1 MP (1152×864) on this CPU, one and two
workers, fast vs layered renderer (the ratio is against 1 worker + fast, measured in the same run).

    python eval/bench_data.py --n 8 --out out/bench_data
"""

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import bar_chart, machine  # noqa: E402
from genrefocus.data import builders  # noqa: E402
from genrefocus.data.manifest import ManifestBuilder  # noqa: E402
from genrefocus.io import save_image  # noqa: E402


def make_inputs(root: Path, n: int, size) -> list:
    from skimage import data
    from skimage.transform import resize

    names = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"]
    items = []
    for i in range(n):
        img = getattr(data, names[i % len(names)])()[..., :3] / 255.0
        img = resize(img, size, anti_aliasing=True)
        p = root / "img" / f"im{i}.png"
        save_image(torch.from_numpy(img.transpose(2, 0, 1)).float()[None], p)
        yy = np.linspace(1.0, 6.0, size[0])[:, None] * np.ones(size[1])[None]
        (root / "depth").mkdir(parents=True, exist_ok=True)
        np.save(root / "depth" / f"im{i}.npy", yy.astype(np.float32))
        items.append({"id": f"im{i}", "image": str(p), "source": "bench"})
    return items


def build_parser():
    ap = ArgumentParser(prog="bench_data", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="images per configuration")
    ap.add_argument("--size", default="864x1152", help="HxW (default ≈ 1 MP)")
    ap.add_argument("--out", default="out/bench_data")
    return ap


@torch.no_grad()
def run(args) -> int:
    from genrefocus.io import check_output_dir
    from genrefocus.parsing import check_int, parse_size

    check_int("--n", args.n, 1, 10000)
    size = parse_size(args.size, "--size", order="HxW")
    out = check_output_dir(args.out, "--out")
    shutil.rmtree(out, ignore_errors=True)
    items = make_inputs(out / "inputs", args.n, size)
    print(f"machine: {machine()}\nimages: {args.n} × {size[1]}×{size[0]} ({size[0] * size[1] / 1e6:.2f} MP), K∈[10,40]")
    rows = []
    for renderer, workers in (("fast", 1), ("fast", 2), ("layered", 1)):
        dst = out / f"{renderer}_w{workers}"
        src = builders.Sources(depth_dir=str(out / "inputs" / "depth"), cache_dir=dst)
        proc = builders.synthetic(dst, src, k_range=(10, 40), renderer=renderer)
        t0 = time.perf_counter()
        ManifestBuilder(dst).run(items, proc, workers=workers, progress=False)
        sec = time.perf_counter() - t0
        rows.append({"renderer": renderer, "workers": workers, "seconds": sec, "samples_per_s": args.n / sec})
    base = rows[0]["samples_per_s"]
    for r in rows:
        r["ratio_vs_fast_1worker"] = r["samples_per_s"] / base
        print(f"{r['renderer']:8s} workers={r['workers']}  {r['samples_per_s']:.2f} samples/s "
              f"({r['seconds']:.1f} s)  ×{r['ratio_vs_fast_1worker']:.2f}")
    print("GPU: not measured" if not torch.cuda.is_available() else "GPU rows: run with CUDA_VISIBLE_DEVICES set")
    (out / "results.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    bar_chart(out / "samples_per_s.png", [f"{r['renderer']}\n{r['workers']} worker(s)" for r in rows],
              [r["samples_per_s"] for r in rows], "samples/s at 1 MP", figsize=(5, 3))
    print(f"wrote {out / 'results.json'}, {out / 'samples_per_s.png'}")


def main(argv=None) -> int:
    return run_main("bench_data", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
