"""Resumable, parallel, crash-safe item processing that writes a JSONL manifest.

Every finished item's records are appended (one write, flushed and fsync'd) to
``<name>.partial.jsonl`` as soon as the item is done, after its files were written atomically; a
failure is one line in ``errors.jsonl`` (id, stage, reason) and the build goes on. Re-running skips
items already in the partial file (failed ones are retried). At the end ``<name>.jsonl`` is
rewritten atomically, de-duplicated and sorted by record id — so a run killed midway and restarted
produces the same manifest as an uninterrupted one. Workers are threads (torch and the image codecs
release the GIL).
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np
from tqdm.auto import tqdm


class SkipItem(Exception):
    """An item that cannot be used (e.g. no usable EXIF); logged with its reason, not an error."""


def item_rng(seed: int, item_id: str) -> np.random.Generator:
    """A random generator that depends only on (seed, item id): order- and worker-independent."""
    h = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, h])


def atomic_save_npy(path: Path, array) -> Path:
    """``np.save`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{path.name}")
    with open(tmp, "wb") as fh:
        np.save(fh, np.asarray(array))
    os.replace(tmp, path)
    return path


def read_jsonl(path: Path) -> list:
    """Records of a JSONL file; a truncated last line (crash mid-write) is ignored."""
    out = []
    if not Path(path).is_file():
        return out
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


LOCK_NAME = ".genrefocus-data.lock"


class OutputLock:
    """One build per output folder at a time: ``<out>/.genrefocus-data.lock`` holds the owner's host
    and pid. A second run on the same folder stops with a clear :class:`InputError`; a lock left by a
    run that died (same host, pid gone) is taken over. On entry, temporary files (``.tmp-*``) that a
    killed run left behind are removed — no live run can own them while the lock is held."""

    def __init__(self, out_dir):
        self.out = Path(out_dir)
        self.path = self.out / LOCK_NAME

    def __enter__(self) -> "OutputLock":
        import socket

        from ..errors import InputError

        self.out.mkdir(parents=True, exist_ok=True)
        me = f"{socket.gethostname()} {os.getpid()}"
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                host, _, pid = self.path.read_text().strip().partition(" ")
                if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
                    self.path.unlink(missing_ok=True)  # stale: its run died
                    continue
                raise InputError("--out", f"another genrefocus-data run ({host} pid {pid}) is writing to "
                                          f"{str(self.out)!r}; wait for it, or delete {LOCK_NAME} there if it is gone")
            with os.fdopen(fd, "w") as fh:
                fh.write(me)
            break
        for tmp in self.out.rglob(".tmp-*"):  # orphans of a killed run
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ManifestBuilder:
    """Process items into ``out_dir`` with a resumable manifest (see module doc)."""

    def __init__(self, out_dir, name: str = "manifest", errors_name: str = "errors.jsonl"):
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.partial = self.out / f"{name}.partial.jsonl"
        self.final = self.out / f"{name}.jsonl"
        self.errors = self.out / errors_name
        self._lock = threading.Lock()

    def done_items(self) -> set:
        return {r.get("item", r.get("id")) for r in read_jsonl(self.partial)}

    def _append(self, path: Path, records: Iterable[dict]) -> None:
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        with self._lock, open(path, "a") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def run(self, items: list, process: Callable[[dict], list], workers: int = 1, desc: str = "build",
            progress: bool = True) -> dict:
        """Run ``process(item) -> [records]`` over the items not yet done; returns counts."""
        done = self.done_items()
        todo = [it for it in items if it["id"] not in done]
        counts = {"done_before": len(items) - len(todo), "ok": 0, "skipped": 0, "failed": 0}

        def one(item):
            try:
                recs = process(item)
            except SkipItem as exc:
                self._append(self.errors, [{"id": item["id"], "kind": "skipped", "reason": str(exc), "time": time.time()}])
                return "skipped"
            except Exception as exc:  # noqa: BLE001 - one bad item must not stop the build
                self._append(self.errors, [{"id": item["id"], "kind": "failed",
                                            "reason": f"{type(exc).__name__}: {exc}", "time": time.time()}])
                return "failed"
            for r in recs:
                r.setdefault("item", item["id"])
            self._append(self.partial, recs)
            return "ok"

        bar = tqdm(total=len(todo), desc=desc, unit="item", disable=not progress)
        try:
            if workers <= 1:
                for it in todo:
                    counts[one(it)] += 1
                    bar.update()
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    futures = [pool.submit(one, it) for it in todo]
                    for f in as_completed(futures):
                        counts[f.result()] += 1
                        bar.update()
        finally:
            bar.close()
            self.finalize()
        return counts

    def records(self) -> list:
        """The finished records, de-duplicated by id and sorted."""
        by_id = {}
        for r in read_jsonl(self.partial):
            by_id[r["id"]] = r
        return [by_id[k] for k in sorted(by_id)]

    def finalize(self, records: Optional[list] = None) -> Path:
        """Write ``<name>.jsonl`` atomically (sorted by id)."""
        recs = self.records() if records is None else records
        tmp = self.final.with_name(f".tmp-{self.final.name}")
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in recs))
        os.replace(tmp, self.final)
        return self.final


def write_shards(records: list, out_dir, per_shard: int = 1000, keys=("target", "aif", "input", "depth", "image")):
    """webdataset-style tar shards: per sample ``<id>.<key><ext>`` files and ``<id>.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(0, len(records), per_shard):
        p = out / f"shard-{s // per_shard:05d}.tar"
        tmp = p.with_name(f".tmp-{p.name}")
        with tarfile.open(tmp, "w") as tar:
            for r in records[s:s + per_shard]:
                key = r["id"].replace(".", "_")
                for k in keys:
                    if isinstance(r.get(k), str) and Path(r[k]).is_file():
                        tar.add(r[k], arcname=f"{key}.{k}{Path(r[k]).suffix.lower()}")
                data = json.dumps(r, sort_keys=True).encode()
                info = tarfile.TarInfo(f"{key}.json")
                info.size = len(data)
                import io

                tar.addfile(info, io.BytesIO(data))
        os.replace(tmp, p)
        paths.append(p)
    return paths
