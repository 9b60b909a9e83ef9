"""Worker for test_distributed.py: run under `accelerate launch` (or plainly for one process)."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from tiny_flux import tiny_pipeline  # noqa: E402

from genrefocus.pipelines import distributed  # noqa: E402
from genrefocus.pipelines.generative import BOKEH_PROMPT, Condition  # noqa: E402


def main(out: str, lora: str) -> None:
    pipe = tiny_pipeline()
    pipe.load_genfocus_lora(lora, "bokeh")
    img = torch.rand(1, 3, 512, 768, generator=torch.Generator().manual_seed(0))
    conds = [Condition(img, "bokeh"), Condition(img * 0.5, "bokeh", preprocess=False)]
    tiled = pipe.generate(conds, BOKEH_PROMPT, 512, 768, guidance_scale=1.0, num_inference_steps=2, tiling=True,
                          generator=torch.Generator().manual_seed(7))
    items = distributed.split_items(list(range(4)))
    results = []
    for i in items:
        small = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(100 + i))
        r = pipe.generate([Condition(small, "bokeh")], BOKEH_PROMPT, 64, 64, guidance_scale=1.0,
                          num_inference_steps=2, generator=torch.Generator().manual_seed(i))
        results.append((i, r))
    batch = distributed.gather_items(results)
    rank, size = distributed.world()
    if rank == 0:
        torch.save({"tiled": tiled, "batch": batch, "world": size}, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
