"""Multi-process inference with accelerate: split tiles of one image, or a list of images.

Under ``accelerate launch --multi_gpu --num_processes N`` (NCCL on GPUs; gloo on a machine without
CUDA) every process runs the same sampler; in a
tiled step each process computes the tiles ``rank::world_size`` and the predictions are
all-gathered in tile order, so every process blends exactly what a single process would.
Without a distributed launch these functions are no-ops.
"""

from __future__ import annotations

from typing import Sequence

import torch


def _launched_size() -> int:
    import os

    for k in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        if os.environ.get(k, "").isdigit():
            return int(os.environ[k])
    return 1


def _state():
    """accelerate's process state; on a machine without CUDA it runs gloo (``cpu=True``)."""
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def world() -> tuple:
    """``(rank, world_size)``; ``(0, 1)`` outside a distributed launch."""
    if _launched_size() <= 1:
        return 0, 1
    st = _state()
    return st.process_index, st.num_processes


def my_share(n: int) -> list:
    """Indices ``rank::world_size`` of ``n`` items handled by this process."""
    rank, size = world()
    return list(range(rank, n, size))


def gather_in_order(local: Sequence[torch.Tensor], n: int) -> list:
    """All-gather the tensors this process computed for ``my_share(n)`` into the full ordered list."""
    rank, size = world()
    if size == 1:
        return list(local)
    import torch.distributed as dist

    gathered = [None] * size
    dist.all_gather_object(gathered, [t.cpu() for t in local])
    out = [None] * n
    for r, items in enumerate(gathered):
        for i, t in zip(range(r, n, size), items):
            out[i] = t.to(local[0].device if local else "cpu")
    return out


def split_items(items: Sequence) -> list:
    """The part of ``items`` (e.g. image paths) this process handles (contiguous split)."""
    rank, size = world()
    if size == 1:
        return list(items)
    with _state().split_between_processes(list(items)) as part:
        return list(part)


def gather_items(local: Sequence) -> list:
    """All-gather the per-process results of :func:`split_items` back into one list, in order."""
    rank, size = world()
    if size == 1:
        return list(local)
    import torch.distributed as dist

    gathered = [None] * size
    dist.all_gather_object(gathered, list(local))
    return [x for part in gathered for x in part]
