"""Small helpers shared by the benchmark scripts in ``eval/``: machine description, timing, peak memory,
bar charts, contact sheets of crops, and the tables of ``docs/benchmarks.md`` each script rewrites."""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Callable, Optional

import torch


#: the measurement tables, each between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``
BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def markdown_table(header, rows) -> str:
    """A Markdown table: ``header`` cells, then ``rows`` (lists of cells, formatted as given)."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def this_command(part: Optional[str] = None) -> str:
    """The command line of this script as a user types it (``python eval/<script> ...``); with ``part``,
    the script's arguments reduced to ``--parts part`` (one table of a script of several parts). Where the
    results are written (``--out``) is left out: it does not change a figure."""
    import sys

    script = Path(sys.argv[0])
    name = f"{script.parent.name}/{script.name}" if script.parent.name else script.name
    dropped = ("--out",) if part is None else ("--out", "--parts")
    args, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a in dropped:
            skip = True
        elif not a.startswith(tuple(d + "=" for d in dropped)):
            args.append(a)
    if part is not None:
        args += ["--parts", part]
    return " ".join(["python", name, *args])


def update_doc_table(name: str, body: str, command: str, path: Optional[Path] = None) -> Optional[Path]:
    """Replace the block ``name`` of ``docs/benchmarks.md`` with ``body`` (Markdown: a table and its
    notes) under a line saying the ``command`` that made it, the machine and the date. The block must
    exist (it says where the table sits in the page); returns the file, or None when the page is absent
    (an installed package without the repository's docs) or when ``GENREFOCUS_NO_DOC_TABLES`` is set (the
    test suite runs the eval scripts on toy sizes: their figures must not reach the page)."""
    import datetime
    import os

    from .io import atomic_write

    if path is None and os.environ.get("GENREFOCUS_NO_DOC_TABLES"):
        return None
    path = Path(path) if path is not None else BENCHMARKS_MD
    if not path.is_file():
        return None
    text = path.read_text()
    start, end = f"<!-- table:{name} -->", f"<!-- /table:{name} -->"
    if start not in text or end not in text:
        raise KeyError(f"{path} has no block {start} … {end}")
    stamp = f"*`{command}` — {machine()}, {datetime.date.today().isoformat()}*"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{stamp}\n\n{body.strip()}\n{end}{tail}"
    return atomic_write(path, lambda tmp: Path(tmp).write_text(new))


def machine() -> str:
    """One line describing the machine: CPU, threads, torch, GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, {gpu}"


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (Linux: ``5`` to ``/proc/self/clear_refs``); True if it was reset.

    Needed in a child process a benchmark starts to measure one call: a child made by ``fork()``
    inherits its parent's high-water mark, so ``ru_maxrss`` reports the parent's RSS until the child
    outgrows it (a 13 MB child of a 1.5 GB parent reads 1.5 GB)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_kb() -> int:
    """Peak resident memory of this process since start or :func:`reset_peak_rss`, in kB (``VmHWM``;
    ``ru_maxrss`` where ``/proc`` is missing — then a forked child may read its parent's peak)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def timed(fn: Callable, device: torch.device | str = "cpu", repeats: int = 1, warmup: int = 0):
    """Run ``fn`` ``warmup`` + ``repeats`` times; return (last result, best seconds)."""
    sync = (lambda: torch.cuda.synchronize()) if torch.device(device).type == "cuda" else (lambda: None)
    out = None
    for _ in range(warmup):
        out = fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return out, best


def save_figure(fig, path, dpi: int = 90) -> Path:
    """Lay out, write (its folder made) and close a matplotlib figure; returns ``path``."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def bar_chart(path, labels, values, axis_label: str, figsize=(6, 3.5), horizontal: bool = False,
              log: bool = False, title: str | None = None):
    """Write a bar chart PNG (matplotlib, Agg) of ``values`` per label; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    if horizontal:
        ax.barh(labels, values)
        ax.set_xlabel(axis_label)
    else:
        ax.bar(labels, values)
        ax.set_ylabel(axis_label)
    if log:
        (ax.set_xscale if horizontal else ax.set_yscale)("log")
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def crop_contact_sheet(images, names, path, title: str, size: int = 180, top: int = 50) -> None:
    """One row per scene (``images``: list of ``{name: (1, 3, H, W)}`` incl. ``"gt"``), one column per
    name: a ``size``-px crop around the scene's sharpest ground-truth detail (largest local mean of
    |Laplacian|, rows ``top:`` only). Writes a PNG (matplotlib, Agg) to ``path``."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from scipy import ndimage

    fig, axes = plt.subplots(len(images), len(names), figsize=(2.2 * len(names), 2.3 * len(images)), squeeze=False)
    for row, imgs in zip(axes, images):
        g = imgs["gt"][0].mean(0).numpy()
        energy = ndimage.uniform_filter(np.abs(ndimage.laplace(g)), size)
        energy[:top + size // 2] = 0
        energy[:, :size // 2] = energy[:, -size // 2:] = energy[-size // 2:] = 0
        y, x = np.unravel_index(int(np.argmax(energy)), energy.shape)
        y0, x0 = y - size // 2, x - size // 2
        for ax, n in zip(row, names):
            ax.imshow(imgs[n][0, :, y0:y0 + size, x0:x0 + size].permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"({x0},{y0})", fontsize=7)
    for ax, n in zip(axes[0], names):
        ax.set_title(n, fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print("wrote", path)


#: dense bf16 peak TFLOP/s by GPU name fragment (vendor spec sheets, SXM parts)
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "RTX 4090": 165.0}


def peak_tflops() -> float | None:
    """The current CUDA device's dense bf16 peak (TFLOP/s) if known."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
