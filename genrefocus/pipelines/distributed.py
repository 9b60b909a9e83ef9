"""Multi-process inference with accelerate: split the tiles of one image, or a list of images.

Under ``accelerate launch --multi_gpu --num_processes N`` (NCCL on GPUs; gloo on a machine without
CUDA) every process runs the same program. What is split is chosen explicitly by the caller, once:

* **images** — :meth:`ProcessSplit.split_items` gives each process a contiguous part of a list (a
  folder of photos); each process samples its images alone; :meth:`ProcessSplit.gather_items`
  collects the results in order;
* **tiles** — pass the split as ``SamplerOptions(tile_split=...)``: in a tiled step each process
  computes the tiles ``rank::world_size`` and the predictions are all-gathered in tile order, so every
  process blends exactly what a single process would.

The two are exclusive: a sampler whose images are already split must not also split its tiles
(the collectives of different images would cross). Nothing here reads the environment behind the
caller's back: :meth:`ProcessSplit.from_launch` is called once by the entry point.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import torch


def _launched_size() -> int:
    for k in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        if os.environ.get(k, "").isdigit():
            return int(os.environ[k])
    return 1


@dataclass(frozen=True)
class ProcessSplit:
    """This process's ``rank`` among ``world_size`` processes (``(0, 1)``: a single process)."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def from_launch(cls) -> "ProcessSplit":
        """The split of an ``accelerate launch`` (accelerate's ``PartialState``; gloo without CUDA),
        or a single process when not launched."""
        if _launched_size() <= 1:
            return cls()
        from accelerate import PartialState

        st = PartialState(cpu=not torch.cuda.is_available())
        return cls(st.process_index, st.num_processes)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, n: int) -> list:
        """Indices ``rank::world_size`` of ``n`` items (the tiles this process computes)."""
        return list(range(self.rank, n, self.world_size))

    def gather_in_order(self, local: Sequence[torch.Tensor], n: int) -> list:
        """All-gather the tensors computed for :meth:`share` ``(n)`` into the full ordered list."""
        if self.world_size == 1:
            return list(local)
        import torch.distributed as dist

        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, [t.cpu() for t in local])
        device = local[0].device if local else "cpu"
        out = [None] * n
        for r, items in enumerate(gathered):
            for i, t in zip(range(r, n, self.world_size), items):
                out[i] = t.to(device)
        return out

    def split_items(self, items: Sequence) -> list:
        """The contiguous part of ``items`` this process handles (first processes take one more)."""
        items = list(items)
        if self.world_size == 1:
            return items
        q, r = divmod(len(items), self.world_size)
        start = self.rank * q + min(self.rank, r)
        return items[start:start + q + (1 if self.rank < r else 0)]

    def gather_items(self, local: Sequence) -> list:
        """All-gather the per-process results of :meth:`split_items` back into one list, in order."""
        if self.world_size == 1:
            return list(local)
        import torch.distributed as dist

        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, list(local))
        return [x for part in gathered for x in part]

    def barrier(self) -> None:
        if self.world_size > 1:
            import torch.distributed as dist

            dist.barrier()


__all__ = ["ProcessSplit"]
