"""Sharded, resumable dataset builds — on this machine (threads) or on a Ray cluster.

A build's items are cut into deterministic shards of ``shard_size`` consecutive items (the readers list
items in a fixed order). Each shard is processed by one worker into ``<out>/parts/``:

* ``shard-NNNNN.partial.jsonl`` — each finished item's records, appended and fsync'd as soon as its files
  are written atomically (a worker killed mid-shard loses only the items it had not finished);
* ``shard-NNNNN.errors.jsonl`` — skipped / failed items with their reasons;
* ``shard-NNNNN.done`` — written last, atomically: a re-run never redoes a finished shard.

One progress bar counts items across all workers: the driver reads the pending shards' part files twice a
second (:class:`ItemProgress`). The driver then merges the finished shards into ``<out>/manifest.jsonl`` (records sorted by id, written
atomically) and ``<out>/errors.jsonl``. The records of an item depend only on the inputs, the seed and
the item's id (:func:`~genrefocus.data.manifest.item_rng`), so a build gives byte-identical files and
manifest whether it runs locally, on Ray with one or many workers, or resumed after a kill. The plan
(``parts/plan.json``: shard size and the item ids) is fixed by the first run; a re-run with other items
or another shard size is refused in one line.

Distribution follows img2dataset's ``distributor``: :class:`LocalDistributor` (threads in this process)
or :class:`RayDistributor` (one Ray actor per worker, holding the build's models: they load once per
worker, not per item; ``num_gpus`` per actor for GPU stages). Ray is an optional dependency
(``pip install "genrefocus[cluster]"``); the output folder must be on a file system every node sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from tqdm.auto import tqdm

from ..errors import InputError
from ..io import atomic_write_text
from .manifest import ManifestBuilder, read_jsonl

PARTS = "parts"
PLAN = "plan.json"
DEFAULT_SHARD_SIZE = 64
DISTRIBUTORS = ("local", "ray")


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def run_shard(out: Path, index: int, items: list, process: Callable[[dict], list], threads: int = 1) -> dict:
    """Process one shard's items (on ``threads`` threads) into ``<out>/parts``, resuming its finished
    items, and mark it done; returns its counts ``{"ok", "skipped", "failed", "done_before"}``."""
    parts = Path(out) / PARTS
    name = shard_name(index)
    counts = ManifestBuilder(parts, name=name, errors_name=f"{name}.errors.jsonl").run(
        items, process, workers=threads, progress=False)
    atomic_write_text(parts / f"{name}.done", json.dumps(counts, sort_keys=True))
    return counts


@dataclass
class ShardedBuild:
    """The shards of one build in ``out`` (see the module doc)."""

    out: Path
    items: list
    shard_size: int = DEFAULT_SHARD_SIZE
    name: str = "manifest"

    def __post_init__(self):
        self.out = Path(self.out)
        if isinstance(self.shard_size, bool) or not isinstance(self.shard_size, int) or self.shard_size < 1:
            raise InputError("--shard-size", f"must be a positive integer, got {self.shard_size!r}")
        self.shards = [self.items[i:i + self.shard_size] for i in range(0, len(self.items), self.shard_size)]

    def plan(self) -> dict:
        ids = "\n".join(it["id"] for it in self.items).encode()
        return {"shard_size": self.shard_size, "items": len(self.items), "ids_sha256": hashlib.sha256(ids).hexdigest()}

    def check_plan(self) -> None:
        """Write the plan on the first run; refuse a re-run whose items or shard size differ."""
        parts = self.out / PARTS
        path = parts / PLAN
        mine = self.plan()
        if path.is_file():
            theirs = json.loads(path.read_text())
            if theirs != mine:
                what = "--shard-size" if theirs.get("shard_size") != mine["shard_size"] else "--input"
                raise InputError(what, f"{str(self.out)!r} holds a build of {theirs.get('items')} items in shards of "
                                       f"{theirs.get('shard_size')}; this run has {mine['items']} items in shards of "
                                       f"{mine['shard_size']}: use the same inputs and --shard-size, or another --out")
        else:
            parts.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(mine, sort_keys=True))

    def done(self, index: int) -> bool:
        return (self.out / PARTS / f"{shard_name(index)}.done").is_file()

    def pending(self) -> list:
        return [i for i in range(len(self.shards)) if not self.done(i)]

    def finished_items(self) -> int:
        return sum(len(self.shards[i]) for i in range(len(self.shards)) if self.done(i))

    def items_written(self, index: int) -> int:
        """Items of shard ``index`` finished so far (records or an error written), read from its part files."""
        parts, name = self.out / PARTS, shard_name(index)
        ids = {r.get("item", r.get("id")) for r in read_jsonl(parts / f"{name}.partial.jsonl")}
        ids |= {e.get("id") for e in read_jsonl(parts / f"{name}.errors.jsonl")}
        return min(len(ids), len(self.shards[index]))

    def merge(self) -> list:
        """Write ``manifest.jsonl`` (the finished shards' records, by id) and ``errors.jsonl``; returns
        the records."""
        parts = self.out / PARTS
        by_id = {}
        errors = []
        for i in range(len(self.shards)):
            name = shard_name(i)
            for r in read_jsonl(parts / f"{name}.partial.jsonl"):
                by_id[r["id"]] = r
            errors += read_jsonl(parts / f"{name}.errors.jsonl")
        records = [by_id[k] for k in sorted(by_id)]
        ManifestBuilder(self.out, name=self.name).finalize(records)
        atomic_write_text(self.out / "errors.jsonl", "".join(json.dumps(e, sort_keys=True) + "\n" for e in errors))
        return records


def _add(total: dict, counts: dict) -> None:
    for k, v in counts.items():
        total[k] = total.get(k, 0) + v


class ItemProgress:
    """One bar over the items of a build's pending shards, wherever they run: finished shards count whole,
    running ones by the items their part files hold (the output folder is shared by every worker)."""

    #: seconds between two reads of the running shards' part files
    poll_s = 0.5

    def __init__(self, build: ShardedBuild, todo: list, desc: str, progress: bool):
        self.build, self.finished, self._lock = build, set(), threading.Lock()
        self.before = {i: build.items_written(i) for i in todo}
        self.total = sum(len(build.shards[i]) - self.before[i] for i in todo)
        self.bar = tqdm(total=self.total, desc=desc, unit="item", disable=not progress)

    def update(self, running=(), finished: Optional[int] = None) -> int:
        """Move the bar to the items done now (``finished``: a shard that just completed); returns that count."""
        with self._lock:   # called from the driver's loop and from the local poller thread
            if finished is not None:
                self.finished.add(finished)
            b = self.build
            n = sum(len(b.shards[i]) - self.before[i] for i in self.finished)
            n += sum(max(0, b.items_written(i) - self.before[i]) for i in running if i not in self.finished)
            self.bar.n = max(self.bar.n, min(n, self.total))
            self.bar.refresh()
            return self.bar.n

    def close(self) -> None:
        self.bar.close()


class LocalDistributor:
    """Shards one after the other in this process, each on ``workers`` threads sharing one ``process``
    (torch and the image codecs release the GIL)."""

    def __init__(self, workers: int = 1):
        self.workers = workers

    def run(self, build: ShardedBuild, factory: Callable[[], Callable], desc: str = "build",
            progress: bool = True) -> dict:
        todo = build.pending()
        total = {"ok": 0, "skipped": 0, "failed": 0, "done_before": build.finished_items(), "lost_shards": 0}
        bar = ItemProgress(build, todo, desc, progress)
        process = factory()
        current, stop = [], threading.Event()

        def poll():
            while not stop.wait(bar.poll_s):
                bar.update(list(current))

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            for i in todo:
                current[:] = [i]
                _add(total, run_shard(build.out, i, build.shards[i], process, threads=self.workers))
                current.clear()
                bar.update(finished=i)
        finally:
            stop.set()
            poller.join()
            bar.close()
        return total


class _ShardWorker:
    """A Ray actor: builds the per-item function once (its models load here), then runs shards."""

    def __init__(self, factory):
        self.process = factory()

    def ready(self) -> bool:
        return True

    def run(self, out: str, index: int, items: list) -> tuple:
        return index, run_shard(Path(out), index, items, self.process)


class RayDistributor:
    """Shards on a Ray cluster: ``workers`` actors (default: one per CPU of the cluster / ``num_cpus``),
    each with ``num_cpus`` CPUs and — for a ``gpu_stage`` on a cluster with GPUs — one GPU, each loading the
    build's models once. Connects to
    ``address`` (``auto``, ``HOST:PORT``; None: a running ``ray.init()`` or a local instance). A worker
    that dies loses its shard's unfinished items: the build goes on, the shard is reported lost, and
    re-running the same command finishes it."""

    def __init__(self, address: Optional[str] = None, workers: Optional[int] = None, num_cpus: float = 1,
                 gpu_stage: bool = False):
        self.address, self.workers, self.num_cpus, self.gpu_stage = address, workers, num_cpus, gpu_stage

    def _ray(self):
        from ..errors import require

        ray = require("ray", "cluster", "--distributor ray")
        started = False
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, log_to_driver=False, include_dashboard=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise InputError("--ray-address", f"cannot connect to a Ray cluster at {self.address!r}: "
                                                  f"{str(exc).splitlines()[0]}") from None
            started = True
        return ray, started

    def run(self, build: ShardedBuild, factory: Callable[[], Callable], desc: str = "build",
            progress: bool = True) -> dict:
        ray, started = self._ray()
        try:
            return self._run(ray, build, factory, desc, progress)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray, build, factory, desc, progress) -> dict:
        todo = build.pending()
        total = {"ok": 0, "skipped": 0, "failed": 0, "done_before": build.finished_items(), "lost_shards": 0}
        if not todo:
            return total
        n = self.workers
        resources = ray.cluster_resources()
        if self.workers is None:
            n = max(1, int(resources.get("CPU", 1) // max(self.num_cpus, 1e-9)))
        gpus = 1 if self.gpu_stage and resources.get("GPU", 0) >= 1 else 0
        Worker = ray.remote(num_cpus=self.num_cpus, num_gpus=gpus, max_restarts=0)(_ShardWorker)
        n = min(n, len(todo))
        actors = [Worker.options(name=f"genrefocus-data-{os.getpid()}-{k}").remote(factory) for k in range(n)]
        bar = ItemProgress(build, todo, desc, progress)
        queue = list(todo)
        running = {}
        alive = list(actors)

        def submit(actor):
            if queue:
                i = queue.pop(0)
                running[actor.run.remote(str(build.out), i, build.shards[i])] = (actor, i)

        for a in alive:
            submit(a)
        try:
            while running:
                ready, _ = ray.wait(list(running), num_returns=1, timeout=bar.poll_s)
                if not ready:
                    bar.update([i for _, i in running.values()])
                    continue
                ref = ready[0]
                actor, i = running.pop(ref)
                try:
                    _, counts = ray.get(ref)
                    _add(total, counts)
                    bar.update(finished=i)
                    submit(actor)
                except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError):
                    total["lost_shards"] += 1     # its finished items are kept in the shard's partial file
                    alive.remove(actor)
                    if not alive:
                        total["lost_shards"] += len(queue)
                        queue.clear()
        finally:
            bar.close()
            for a in actors:
                ray.kill(a)
        return total


def distributor(kind: str, workers: Optional[int] = None, address: Optional[str] = None, gpu_stage: bool = False):
    """The distributor named ``kind`` (:data:`DISTRIBUTORS`); ``workers`` None: 1 thread locally, one actor
    per CPU of the Ray cluster."""
    if kind == "local":
        return LocalDistributor(workers or 1)
    if kind == "ray":
        return RayDistributor(address=address, workers=workers, gpu_stage=gpu_stage)
    raise InputError("--distributor", f"{kind!r}: use one of {', '.join(DISTRIBUTORS)}")


__all__ = ["DEFAULT_SHARD_SIZE", "DISTRIBUTORS", "ItemProgress", "LocalDistributor", "RayDistributor", "ShardedBuild", "distributor",
           "run_shard", "shard_name"]
