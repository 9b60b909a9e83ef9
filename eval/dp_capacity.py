#!/usr/bin/env python3
"""Rank dual-pixel deblurring training runs by in-distribution gain per CPU-hour (issue 28).

Every snapshot of every run (``RUN/snapshots/step-N``, written with ``--keep-snapshots true``, and
the finished model in ``RUN``) is scored on the same held-out synthetic one-plane pairs (photos no trainer uses,
τ = 0.75, the real camera's relation) by CoC radius: the gain of its all-in-focus image over the mean of
the two views, next to the Wiener deconvolution given the true kernel. The run's wall-clock time at
that step comes from its ``loss.jsonl`` (runs use one thread each, so hours ≈ CPU-hours), plus the CPU-hours
of its starting weights for a fine-tune (``init_from``: that folder's train log, seconds × torch threads). Writes
``capacity.png`` (mean gain against hours, one line per run, the Wiener oracle as a reference line;
and the gain by CoC radius of each run's last snapshot) and the ``dp_capacity`` table in
docs/benchmarks.md. Canon validation scenes are never used here: candidates are ranked on synthetic
pairs, the chosen one is scored once with ``eval/dp_eval.py``.

    python eval/dp_capacity.py RUN [RUN ...] [--n 6] [--out out/dp_capacity]
"""

import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from genrefocus.entry import ArgumentParser, run_main  # noqa: E402
from genrefocus.benchmark import machine, markdown_table, this_command, update_doc_table  # noqa: E402

COCS = (2, 4, 6, 8, 10, 14)


def build_parser():
    ap = ArgumentParser(prog="dp_capacity", description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="training output folders (with snapshots/ and loss.jsonl)")
    ap.add_argument("--n", type=int, default=6, help="held-out pairs per CoC radius")
    ap.add_argument("--size", type=int, default=128, help="pair side (px)")
    ap.add_argument("--shipped", default=str(ROOT / "genrefocus" / "weights" / "dp_deblur"),
                    help="the shipped model, scored beside the runs (its hours from its train_log.json)")
    ap.add_argument("--out", default="out/dp_capacity")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    return ap


def _hours(run: Path) -> dict:
    """``{step: wall-clock hours}`` from the run's loss log."""
    out = {}
    log = run / "loss.jsonl"
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                r = json.loads(line)
                out[int(r["step"])] = float(r["seconds"]) / 3600
            except (ValueError, KeyError):
                continue
    return out


def _snapshots(run: Path) -> list:
    """``[(step, folder)]`` of a run's snapshots, by step."""
    snaps = sorted((int(p.name.split("-")[1]), p) for p in (run / "snapshots").glob("step-*")
                   if (p / "model.safetensors").is_file())
    log = run / "train_log.json"
    if (run / "model.safetensors").is_file() and log.is_file():   # the finished model
        step = int(json.loads(log.read_text()).get("steps", 0))
        if step and all(s != step for s, _ in snaps):
            snaps.append((step, run))
    return snaps


def _model_cpu_hours(folder: Path, _seen=()) -> float:
    """CPU-hours that made a model folder, from its ``train_log.json``: its wall time × the torch threads of
    its machine line — ``total_seconds`` where the log sums all its fine-tunes, else its own ``seconds`` plus
    the CPU-hours of the weights it started from (``config.init_from``, followed down the chain)."""
    log = json.loads((folder / "train_log.json").read_text()) if (folder / "train_log.json").is_file() else {}
    threads = re.search(r"(\d+) torch threads", log.get("machine", ""))
    threads = int(threads[1]) if threads else 1
    if "total_seconds" in log:
        return log["total_seconds"] * threads / 3600
    own = log.get("seconds", float("nan")) * threads / 3600
    init = log.get("config", {}).get("init_from")
    if init and Path(init).is_dir() and Path(init).resolve() not in _seen:
        own += _model_cpu_hours(Path(init), (*_seen, folder.resolve()))
    return own


def _start_hours(run: Path) -> float:
    """CPU-hours already in a run's starting weights (``init_from`` of its config; 0 from scratch)."""
    log = run / "train_log.json"
    init = json.loads(log.read_text()).get("config", {}).get("init_from") if log.is_file() else None
    return _model_cpu_hours(Path(init)) if init and Path(init).is_dir() else 0.0


def _at(hours: dict, step: int) -> float:
    if not hours:
        return float("nan")
    near = min(hours, key=lambda s: abs(s - step))
    return hours[near] * (step / near if near else 1.0)


def run(args) -> int:
    import torch

    from genrefocus.data.photos import held_out_pool
    from genrefocus.errors import InputError
    from genrefocus.io import check_output_dir
    from genrefocus.metrics.dual_pixel import synthetic_gain_curve
    from genrefocus.models.registry import load_model
    from genrefocus.parsing import check_int

    check_int("--n", args.n, 1, 100)
    check_int("--size", args.size, 64, 512)
    runs = [Path(r) for r in args.runs]
    for r in runs:
        if not r.is_dir() or not _snapshots(r):
            raise InputError("runs", f"{str(r)!r} has no snapshots/step-N/model.safetensors (train with "
                                     "--keep-snapshots true)")
    check_output_dir(args.out, "--out")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(False)
    print(f"machine: {machine()}")
    models, where = {}, {}
    shipped = Path(args.shipped)
    if shipped.is_dir():
        log = json.loads((shipped / "train_log.json").read_text()) if (shipped / "train_log.json").is_file() else {}
        models["shipped"] = load_model(shipped, what="--shipped").eval()
        where["shipped"] = ("shipped", log.get("total_steps", log.get("steps", 0)), _model_cpu_hours(shipped),
                            sum(p.numel() for p in models["shipped"].parameters()))
    for r in runs:
        hours, start = _hours(r), _start_hours(r)
        for step, folder in _snapshots(r):
            key = f"{r.name}@{step}"
            models[key] = load_model(folder, what=str(folder)).eval()
            where[key] = (r.name, step, start + _at(hours, step), sum(p.numel() for p in models[key].parameters()))
    print(f"scoring {len(models)} snapshots on {args.n} held-out pairs × {len(COCS)} CoC radii", flush=True)
    rows = synthetic_gain_curve(models, held_out_pool(), cocs=COCS, n=args.n, size=args.size, softness=0.75)
    gain = {k: float(np.mean([row[k] - row["input"] for row in rows])) for k in models}
    wiener = float(np.mean([row["wiener"] - row["input"] for row in rows]))
    table = []
    for k in models:
        name, step, h, params = where[k]
        table.append([name, f"{params / 1e3:.0f} k", step, f"{h:.2f}", f"{gain[k]:+.2f}",
                      *(f"{row[k] - row['input']:+.2f}" for row in rows)])
    table.append(["Wiener, true kernel (oracle)", "—", "—", "—", f"{wiener:+.2f}",
                  *(f"{row['wiener'] - row['input']:+.2f}" for row in rows)])
    header = ["run", "params", "step", "CPU-hours", "mean gain (dB)", *(f"CoC {c}" for c in COCS)]
    md = markdown_table(header, table)
    best = max(gain, key=gain.get)
    summary = (f"best: {best} ({gain[best]:+.2f} dB over the mean of the views, held-out synthetic pairs, "
               f"{args.n} per radius, τ = 0.75); the Wiener oracle: {wiener:+.2f} dB")
    print(md + "\n\n" + summary)
    report = {"rows": rows, "where": where, "gain": gain}
    (out / "capacity.json").write_text(json.dumps(report, indent=1, default=float))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        ks = [k for k in models if where[k][0] == r.name]
        a.plot([where[k][2] for k in ks], [gain[k] for k in ks], "o-", label=r.name)
        b.plot(COCS, [row[ks[-1]] - row["input"] for row in rows], "o-", label=f"{r.name} (step {where[ks[-1]][1]})")
    if "shipped" in models:
        a.plot([where["shipped"][2]], [gain["shipped"]], "*", ms=14, color="k", label="shipped model")
        b.plot(COCS, [row["shipped"] - row["input"] for row in rows], "k-", lw=2, label="shipped model")
    a.axhline(wiener, color="k", ls="--", label="Wiener, true kernel")
    a.set_xlabel("training CPU-hours")
    a.set_ylabel("mean gain over the mean of the views (dB)")
    a.set_title("in distribution, by training time")
    b.plot(COCS, [row["wiener"] - row["input"] for row in rows], "k--", label="Wiener, true kernel")
    b.axhline(0, color="grey", lw=0.5)
    b.set_xlabel("CoC radius (px)")
    b.set_ylabel("gain (dB)")
    b.set_title("by blur size (last snapshot)")
    for ax in (a, b):
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "capacity.png", dpi=90)
    plt.close(fig)
    if not args.no_doc:
        update_doc_table("dp_capacity", md + "\n\n" + summary, this_command())
    print(f"wrote capacity.png, capacity.json under {out}")
    return 0


def main(argv=None) -> int:
    return run_main("dp_capacity", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
