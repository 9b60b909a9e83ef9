"""Small helpers shared by the benchmark scripts in ``eval/``: machine description and timing."""

from __future__ import annotations

import platform
import time
from typing import Callable

import torch


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
