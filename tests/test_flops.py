"""The FLOP model of the multi-branch forward against torch's own FLOP counter, and the LoRA routing
cost: only the routed adapter's LoRA runs on a branch (other loaded adapters cost nothing)."""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from genrefocus.models.branches import Branch, group_mask, multibranch_forward
from genrefocus.models.flops import multibranch_flops
from genrefocus.pipelines.random_weights import random_pipeline


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    # two adapters loaded (ranks 4 and 8); only the bokeh one is routed to the conditions below
    return random_pipeline(loras={"bokeh": dict(rank=4, seed=1, scale=0.1), "deblur": dict(rank=8, seed=2)},
                           lora_dir=tmp_path_factory.mktemp("loras"))


@pytest.mark.parametrize("attention", ["loop", "fused"])
@pytest.mark.parametrize("independent", [False, True])
@pytest.mark.parametrize("batch", [1, 2])
def test_flop_model_equals_torch_flop_counter(pipe, attention, independent, batch):
    tr = pipe.transformer
    g = torch.Generator().manual_seed(0)
    nt, nl = 8, 48
    x, c1, c2 = (torch.randn(batch, nl, 16, generator=g) for _ in range(3))
    txt, pooled = torch.randn(batch, nt, 32, generator=g), torch.randn(batch, 24, generator=g)
    ids, tids = torch.zeros(nl, 3), torch.zeros(nt, 3)
    t, gd = torch.full((batch,), 0.5), torch.ones(batch)
    gm = group_mask(2, independent=independent)
    branches = [Branch(x, ids, t, gd), Branch(c1, ids, 0 * t, gd, "bokeh"), Branch(c2, ids, 0 * t, gd, "bokeh")]
    with FlopCounterMode(display=False) as fc, sdpa_kernel([SDPBackend.MATH]), torch.no_grad():
        multibranch_forward(tr, Branch(txt, tids, t, gd), branches, pooled, gm, attention=attention)
    want = multibranch_flops(tr.config, [nt, nl, nl, nl], gm, [None, None, 4, 4], batch=batch,
                             attention="visible" if attention == "loop" else "dense")
    assert fc.get_total_flops() == want


def test_flop_model_counts_each_linear_once():
    """FLUX.1-dev width, 1 double + 1 single block, one 512² tile with two conditions: a linear layer is
    24·D² FLOPs per token per block (q, k, v, out + 4× MLP, 2 FLOPs per multiply-add)."""
    from types import SimpleNamespace

    from genrefocus.models.flux_configs import FLUX_DEV

    cfg = SimpleNamespace(**{**FLUX_DEV, "num_layers": 1, "num_single_layers": 1, "out_channels": None})
    D, n = 3072, [512, 1024, 1024, 1024]
    f = multibranch_flops(cfg, n, group_mask(2))
    per_token_linear = 2 * 24 * D * D * sum(n)  # both blocks
    attn = 2 * 4 * D * (512 * 3584 + 1024 * 3584 + 2 * 1024 * 2560)
    assert per_token_linear + attn < f < 1.01 * (per_token_linear + attn)
