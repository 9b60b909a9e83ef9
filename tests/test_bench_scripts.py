"""The benchmark scripts run in their CPU modes and write their reports."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_pipeline_tiny(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "eval" / "bench_pipeline.py"), "--tiny", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "results.json").read_text())
    names = [row["row"] for row in res["rows"]]
    assert names == ["per-branch loop (compat)", "fused (compat)", "fast (KV cache)"]
    assert all(row["seconds"] > 0 and row["tokens_per_s"] > 0 for row in res["rows"])
    assert (tmp_path / "table.md").is_file() and (tmp_path / "times.png").is_file()
    assert "not measured" in r.stdout


def test_bench_data_small(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "eval" / "bench_data.py"), "--n", "2", "--size", "64x96",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert [(x["renderer"], x["where"]) for x in rows] == [("fast", "local, 1 worker"), ("fast", "local, 2 workers"),
                                                            ("layered", "local, 1 worker"), ("fast", "Ray, 2 workers")]
    assert all(x["items_per_s"] > 0 for x in rows) and (tmp_path / "items_per_s.png").is_file()
    # the same pairs whichever way they were built
    import hashlib

    digests = [sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / d / "images").glob("*.png"))
               for d in ("fast_local_1worker", "fast_local_2workers", "fast_Ray_2workers")]
    assert digests[0] == digests[1] == digests[2] and len(digests[0]) == 2
