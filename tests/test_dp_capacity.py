"""eval/dp_capacity.py end to end on tiny runs: every snapshot scored, a fine-tune's CPU-hours counted from its
starting weights, the plot and the report written."""

import json
import sys
from pathlib import Path

import torch

from genrefocus.models.dp_deblur import DPDeblurConfig, DPDeblurNet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
import dp_capacity  # noqa: E402


def _model(folder: Path, seed: int) -> None:
    torch.manual_seed(seed)
    DPDeblurNet(DPDeblurConfig(width=4, scales=2)).save_pretrained(folder)


def test_capacity_scores_every_snapshot_and_counts_the_starting_weights(tmp_path):
    base = tmp_path / "base"   # stands for the shipped model: 1800 s on 2 threads = 1 CPU-hour
    _model(base, 0)
    (base / "train_log.json").write_text(json.dumps({"machine": "AMD EPYC, 2 torch threads", "steps": 100,
                                                     "seconds": 1800.0}))
    run = tmp_path / "ft"
    for step, seed in ((10, 1), (20, 2)):
        _model(run / "snapshots" / f"step-{step:07d}", seed)
    _model(run, 3)
    (run / "train_log.json").write_text(json.dumps({"steps": 30, "machine": "x, 1 torch threads",
                                                    "config": {"init_from": str(base)}}))
    (run / "loss.jsonl").write_text("".join(json.dumps({"step": s, "seconds": s * 36.0}) + "\n" for s in (0, 10, 20, 29)))
    scratch = tmp_path / "scratch"
    _model(scratch / "snapshots" / "step-0000010", 4)
    (scratch / "loss.jsonl").write_text(json.dumps({"step": 10, "seconds": 360.0}) + "\n")
    out = tmp_path / "out"
    assert dp_capacity.main([str(run), str(scratch), "--shipped", str(base), "--n", "1", "--size", "64",
                             "--out", str(out), "--no-doc"]) == 0
    report = json.loads((out / "capacity.json").read_text())
    hours = {k: round(v[2], 3) for k, v in report["where"].items()}
    # the fine-tune starts at the base's hour; from scratch starts at 0; the 30-step model at 29 steps' time × 30/29
    assert hours == {"shipped": 1.0, "ft@10": 1.1, "ft@20": 1.2, "ft@30": 1.3, "scratch@10": 0.1}
    assert set(report["gain"]) == set(hours) and len(report["rows"]) == len(dp_capacity.COCS)
    assert all(r["wiener"] != r["input"] for r in report["rows"])
    assert (out / "capacity.png").stat().st_size > 10_000


def test_cpu_hours_follow_the_chain_of_fine_tunes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder, log in ((a, {"machine": "m, 2 torch threads", "seconds": 900.0}),               # 0.5 h
                        (b, {"machine": "m, 1 torch threads", "seconds": 1800.0, "config": {"init_from": str(a)}}),
                        (c, {"machine": "m, 1 torch threads", "seconds": 360.0, "config": {"init_from": str(b)}})):
        folder.mkdir()
        (folder / "train_log.json").write_text(json.dumps(log))
    assert round(dp_capacity._model_cpu_hours(c), 6) == 1.1
    (a / "train_log.json").write_text(json.dumps({"machine": "m, 2 torch threads", "total_seconds": 3600.0,
                                                  "config": {"init_from": str(a)}}))   # a log that sums its own chain
    assert round(dp_capacity._model_cpu_hours(c), 6) == 2.6
