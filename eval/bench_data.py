#!/usr/bin/env python3
"""Benchmark `genrefocus-data synthetic`: items/s at 1 MP (1152×864) on this machine — one and two local
threads, a local Ray instance with two workers (the distributed path), fast vs layered renderer; the
ratio is against one local thread with the fast renderer, measured in the same run. From the measured
per-item cost it writes what a 100 000-pair build takes on a cluster (on paper: linear scaling assumed).

    python eval/bench_data.py --n 16 --out out/bench_data
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
    ap.add_argument("--n", type=int, default=16, help="images per configuration")
    ap.add_argument("--size", default="864x1152", help="HxW (default ≈ 1 MP)")
    ap.add_argument("--no-ray", action="store_true", help="leave the Ray row out")
    ap.add_argument("--nodes", type=int, default=8, help="cluster size of the on-paper estimate")
    ap.add_argument("--cores", type=int, default=32, help="cores per node of the on-paper estimate")
    ap.add_argument("--pairs", type=int, default=100_000, help="pairs of the on-paper estimate")
    ap.add_argument("--out", default="out/bench_data")
    return ap


def _build(inputs: Path, dst: Path, renderer: str, extra=()) -> float:
    from genrefocus.data.cli import main as data_main

    t0 = time.perf_counter()
    rc = data_main(["synthetic", "--input", str(inputs / "img"), "--depth-dir", str(inputs / "depth"), "--out",
                    str(dst), "--renderer", renderer, "--k-range", "10,40", "--shard-size", "2", *extra])
    if rc != 0:
        raise RuntimeError(f"the build into {dst} failed (rc {rc})")
    return time.perf_counter() - t0


@torch.no_grad()
def run(args) -> int:
    from genrefocus.benchmark import markdown_table, this_command, update_doc_table
    from genrefocus.io import check_output_dir
    from genrefocus.parsing import check_int, parse_size

    check_int("--n", args.n, 2, 10000)
    check_int("--nodes", args.nodes, 1, 100000)
    check_int("--cores", args.cores, 1, 100000)
    check_int("--pairs", args.pairs, 1, 10 ** 9)
    size = parse_size(args.size, "--size", order="HxW")
    out = check_output_dir(args.out, "--out")
    shutil.rmtree(out, ignore_errors=True)
    make_inputs(out / "inputs", args.n, size)
    print(f"machine: {machine()}\nimages: {args.n} × {size[1]}×{size[0]} ({size[0] * size[1] / 1e6:.2f} MP), K∈[10,40]")
    configs = [("fast", "local, 1 worker", ()), ("fast", "local, 2 workers", ("--workers", "2")),
               ("layered", "local, 1 worker", ())]
    ray = None
    if not args.no_ray:
        from genrefocus.errors import require

        ray = require("ray", "cluster", "the Ray row of bench_data (or --no-ray)")
        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        print(f"Ray: local instance, 2 CPUs, started in {time.perf_counter() - t0:.1f} s (not counted)")
        configs += [("fast", "Ray, 2 workers", ("--distributor", "ray", "--workers", "2"))]
    rows = []
    try:
        for renderer, where, extra in configs:
            sec = _build(out / "inputs", out / f"{renderer}_{where.replace(', ', '_').replace(' ', '')}", renderer, extra)
            rows.append({"renderer": renderer, "where": where, "seconds": sec, "items_per_s": args.n / sec})
    finally:
        if ray is not None:
            ray.shutdown()
    base = rows[0]["items_per_s"]
    for r in rows:
        r["ratio"] = r["items_per_s"] / base
        print(f"{r['renderer']:8s} {r['where']:18s} {r['items_per_s']:.2f} items/s ({r['seconds']:.1f} s)  ×{r['ratio']:.2f}")
    # on paper: the per-item cost of one worker (core-seconds) of the distributed row, or the 1-thread row
    dist = next((r for r in rows if r["where"].startswith("Ray")), rows[0])
    workers = 2 if dist["where"].startswith("Ray") else 1
    core_s = workers / dist["items_per_s"]
    hours = args.pairs * core_s / (args.nodes * args.cores) / 3600
    table = markdown_table(["renderer", "where", "items/s", "× local, 1 worker (fast)"],
                           [[r["renderer"], r["where"], f"{r['items_per_s']:.2f}", f"{r['ratio']:.2f}"] for r in rows])
    note = (f"{args.n} images of {size[1]}×{size[0]} px, one pair each. Per-item cost on one worker "
            f"({dist['where']}): {core_s:.2f} core-seconds → {args.pairs:,} pairs on {args.nodes} nodes × "
            f"{args.cores} cores ≈ {hours:.2f} h of rendering, on paper (linear scaling, storage not the bottleneck; "
            "depth from files — a Depth Pro or DeblurNet stage adds its own GPU time per item).")
    print(table + "\n\n" + note)
    (out / "results.json").write_text(json.dumps({"machine": machine(), "rows": rows, "estimate_hours": hours}, indent=2))
    bar_chart(out / "items_per_s.png", [f"{r['renderer']}\n{r['where']}" for r in rows],
              [r["items_per_s"] for r in rows], "items/s at 1 MP", figsize=(7, 3))
    update_doc_table("data_build", table + "\n\n" + note, this_command())
    print(f"wrote {out / 'results.json'}, {out / 'items_per_s.png'}")
    return 0


def main(argv=None) -> int:
    return run_main("bench_data", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
