"""Sharded dataset builds (genrefocus.data.distribute): locally and on a local Ray instance the same
inputs give byte-identical files and manifest; a build killed mid-way (a shard half done, a Ray worker
killed) finishes on a re-run with no item missing or repeated; the result loads with Hugging Face
``datasets`` as JSON and as webdataset shards, and trains from its shard files."""

import hashlib
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genrefocus.data.cli import main
from genrefocus.data.manifest import read_jsonl
from genrefocus.data.manifest_dataset import ManifestRecords, RefocusDataset

N_ITEMS = 16


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("src")
    (root / "img").mkdir()
    (root / "depth").mkdir()
    rng = np.random.default_rng(0)
    base = data.astronaut()[::6, ::6][:80, :80]
    for i in range(N_ITEMS):
        Image.fromarray(np.roll(base, 5 * i, axis=1)).save(root / "img" / f"p{i:02d}.png")
        np.save(root / "depth" / f"p{i:02d}.npy", (1 + 4 * rng.random((80, 80))).astype(np.float32))
    return root


def _build(src, out, *extra):
    return main(["synthetic", "--input", str(src / "img"), "--depth-dir", str(src / "depth"), "--out", str(out),
                 "--shard-size", "2", "--variants", "2", *extra])


def _digest(out: Path) -> dict:
    """sha256 of every output file (the manifest with the output folder's path replaced), work files out."""
    h = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and "parts" not in p.parts and p.name != "errors.jsonl" and not p.name.startswith("."):
            h[str(p.relative_to(out))] = hashlib.sha256(p.read_bytes().replace(str(out).encode(), b"OUT")).hexdigest()
    return h


@pytest.fixture(scope="module")
def reference(src, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "set"
    assert _build(src, out) == 0
    return out


def test_local_build_is_sharded_and_complete(reference):
    recs = read_jsonl(reference / "manifest.jsonl")
    assert len(recs) == 2 * N_ITEMS and len({r["id"] for r in recs}) == 2 * N_ITEMS
    assert [r["id"] for r in recs] == sorted(r["id"] for r in recs)
    assert len(list((reference / "parts").glob("shard-*.done"))) == N_ITEMS // 2
    assert json.loads((reference / "parts" / "plan.json").read_text())["shard_size"] == 2


def test_a_half_done_shard_resumes_to_the_same_bytes(src, reference, tmp_path):
    out = tmp_path / "set"
    assert _build(src, out) == 0
    # as if killed mid-shard: shard 3 not marked done and only its first item's records kept; a temp file left
    parts = out / "parts"
    (parts / "shard-00003.done").unlink()
    lines = (parts / "shard-00003.partial.jsonl").read_text().splitlines()
    keep = [x for x in lines if json.loads(x)["item"] == "p06"]
    (parts / "shard-00003.partial.jsonl").write_text("\n".join(keep) + "\n")
    gone = [json.loads(x)["target"] for x in lines if json.loads(x)["item"] == "p07"]
    for t in gone:
        Path(t).unlink()
    (out / "images" / ".tmp-123-p07_v0.png").write_bytes(b"half")
    assert _build(src, out) == 0
    assert _digest(out) == _digest(reference)


def test_a_rerun_with_another_shard_size_is_refused(src, reference, capsys):
    assert _build(src, reference, "--shard-size", "3") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--shard-size" in err[0] and "shards of 2" in err[0]


def test_the_set_loads_with_hugging_face_datasets_both_ways(src, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is in the test extra")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = tmp_path / "set"
    assert _build(src, out, "--shards", "10") == 0
    as_json = datasets.load_dataset("json", data_files=str(out / "manifest.jsonl"), split="train",
                                    cache_dir=str(tmp_path / "cache"))
    recs = read_jsonl(out / "manifest.jsonl")
    assert as_json.num_rows == len(recs) and sorted(as_json["id"]) == [r["id"] for r in recs]
    assert np.allclose(sorted(as_json["K"]), sorted(r["K"] for r in recs))
    shards = sorted(str(p) for p in (out / "shards").glob("*.tar"))
    wds = datasets.load_dataset("webdataset", data_files={"train": shards}, split="train",
                                cache_dir=str(tmp_path / "cache"))
    assert wds.num_rows == len(recs)
    row = wds[0]
    rec = next(r for r in recs if r["id"].replace(".", "_") == row["__key__"])
    assert row["json"]["K"] == pytest.approx(rec["K"])
    assert np.array_equal(np.asarray(row["target.png"]), np.asarray(Image.open(rec["target"]).convert("RGB")))


def test_training_reads_the_shard_files_on_demand(reference):
    parts = ManifestRecords(reference / "parts" / "shard-*.partial.jsonl")
    whole = ManifestRecords(reference / "manifest.jsonl")
    assert len(parts) == len(whole) == 2 * N_ITEMS
    assert sorted(r["id"] for r in parts) == [r["id"] for r in whole]
    assert not hasattr(parts, "records") and parts[-1]["id"] in {r["id"] for r in whole}
    ds = RefocusDataset("bokeh", {"manifest": str(reference / "parts" / "shard-*.partial.jsonl")}, resolution=64)
    sample = ds.sample(5, np.random.default_rng(0))
    assert sample["target"].shape == (3, 64, 64) and set(sample["images"]) == {"aif", "defocus_map"}


# ----------------------------------------------------------------------------- on Ray
@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="Ray is the cluster extra, installed by the test extra")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 2 ** 20)
    yield ray
    ray.shutdown()


def test_ray_with_two_workers_gives_the_local_bytes(src, reference, ray_local, tmp_path):
    out = tmp_path / "set"
    assert _build(src, out, "--distributor", "ray", "--workers", "2") == 0
    assert _digest(out) == _digest(reference)


def test_a_killed_ray_worker_loses_only_its_shard_and_a_rerun_finishes(src, reference, ray_local, tmp_path, capsys):
    ray = ray_local
    out = tmp_path / "set"
    rc = {}
    t = threading.Thread(target=lambda: rc.setdefault("first", _build(src, out, "--distributor", "ray",
                                                                       "--workers", "2")))
    t.start()
    killed = None
    deadline = time.time() + 120
    # Kill one worker as soon as it exists: it then holds a shard (6 are still queued), so exactly one shard
    # is lost whatever the machine's load. (Waiting for a first finished shard raced the build under load:
    # the whole build could finish, or the chosen worker go idle, before the kill landed.)
    while time.time() < deadline and t.is_alive() and killed is None:
        actors = [a for a in ray.util.list_named_actors(all_namespaces=True)
                  if a["name"].startswith("genrefocus-data-")]
        if actors:
            killed = actors[0]["name"]
            ray.kill(ray.get_actor(killed, namespace=actors[0]["namespace"]))
        time.sleep(0.01)
    t.join(timeout=300)
    assert killed is not None
    done = len(list((out / "parts").glob("shard-*.done")))
    assert rc["first"] == 1 and done == N_ITEMS // 2 - 1       # one shard was lost with its worker, no more
    assert "shard(s) lost" in capsys.readouterr().err
    assert _build(src, out, "--distributor", "ray", "--workers", "2") == 0
    recs = read_jsonl(out / "manifest.jsonl")
    assert len(recs) == 2 * N_ITEMS and len({r["id"] for r in recs}) == 2 * N_ITEMS
    assert _digest(out) == _digest(reference)


def test_one_bar_counts_items_inside_a_running_shard(tmp_path, monkeypatch):
    """The bar moves per item, not per shard: with one shard of 6 slow items, it shows counts between 0 and 6
    while the shard runs; a resumed shard's finished items are left out of the total."""
    from genrefocus.data.distribute import ItemProgress, LocalDistributor, ShardedBuild, shard_name

    items = [{"id": f"i{k}"} for k in range(6)]
    build = ShardedBuild(tmp_path / "out", items, shard_size=6)
    build.check_plan()
    seen = []
    update = ItemProgress.update

    def spy(self, running=(), finished=None):
        seen.append(update(self, running, finished))
        return seen[-1]

    monkeypatch.setattr(ItemProgress, "update", spy)
    monkeypatch.setattr(ItemProgress, "poll_s", 0.05)

    def factory():
        def process(item):
            time.sleep(0.15)
            if item["id"] == "i3":
                raise ValueError("bad item")      # a failed item counts as done too
            return [{"id": item["id"]}]
        return process

    total = LocalDistributor(1).run(build, factory, progress=False)
    assert total["ok"] == 5 and total["failed"] == 1
    assert seen[-1] == 6 and len({n for n in seen if 0 < n < 6}) >= 3, seen
    assert seen == sorted(seen)
    # a half-done shard: 2 items already written, so the bar counts the 4 left
    parts = tmp_path / "half" / "parts"
    half = ShardedBuild(tmp_path / "half", items, shard_size=6)
    half.check_plan()
    (parts / f"{shard_name(0)}.partial.jsonl").write_text('{"id": "i0a", "item": "i0"}\n{"id": "i0b", "item": "i0"}\n'
                                                         '{"id": "i1", "item": "i1"}\n{"id": "i2", "it')
    assert half.items_written(0) == 2
    assert ItemProgress(half, [0], "x", progress=False).total == 4
