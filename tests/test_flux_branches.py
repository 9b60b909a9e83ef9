"""The multi-branch FLUX forward against diffusers' plain forward, and per-branch LoRA routing."""

import torch

from genrefocus.models import Branch, group_mask, multibranch_forward
from genrefocus.models.branches import lora_layers
from tiny_flux import POOLED_DIM, TEXT_DIM, tiny_pipeline, tiny_transformer, write_official_lora


def _inputs(n=12, t_len=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, n, 16, generator=g)
    txt = torch.randn(1, t_len, TEXT_DIM, generator=g)
    pooled = torch.randn(1, POOLED_DIM, generator=g)
    ids = torch.stack([torch.zeros(n), torch.arange(n) // 4, torch.arange(n) % 4], 1).float()
    return x, txt, pooled, ids, torch.zeros(t_len, 3)


@torch.no_grad()
def test_no_condition_equals_plain_forward():
    tr = tiny_transformer().eval()
    x, txt, pooled, ids, tids = _inputs()
    t, g = torch.tensor([0.7]), torch.tensor([3.5])
    ref = tr(hidden_states=x, encoder_hidden_states=txt, pooled_projections=pooled, timestep=t, img_ids=ids,
             txt_ids=tids, guidance=g).sample
    out = multibranch_forward(tr, Branch(txt, tids, t, g), [Branch(x, ids, t, g)], pooled)
    assert (ref - out).abs().max() <= 1e-5


@torch.no_grad()
def test_equal_timesteps_and_full_mask_equal_concatenated_forward():
    tr = tiny_transformer().eval()
    x, txt, pooled, ids, tids = _inputs()
    c1, c2 = torch.randn(1, 12, 16), torch.randn(1, 12, 16)
    ids1, ids2 = ids.clone(), ids.clone()
    ids1[:, 2] += 4
    ids2[:, 1] += 3
    t, g = torch.tensor([0.4]), torch.tensor([1.0])
    ref = tr(hidden_states=torch.cat([x, c1, c2], 1), encoder_hidden_states=txt, pooled_projections=pooled,
             timestep=t, img_ids=torch.cat([ids, ids1, ids2]), txt_ids=tids, guidance=g).sample[:, :12]
    out = multibranch_forward(tr, Branch(txt, tids, t, g), [Branch(x, ids, t, g), Branch(c1, ids1, t, g),
                                                             Branch(c2, ids2, t, g)], pooled,
                              torch.ones(4, 4, dtype=torch.bool))
    assert (ref - out).abs().max() <= 1e-5
    # the official group mask (conditions do not see each other) and t = 0 for conditions change it
    out2 = multibranch_forward(tr, Branch(txt, tids, t, g), [Branch(x, ids, t, g), Branch(c1, ids1, 0 * t, g),
                                                              Branch(c2, ids2, 0 * t, g)], pooled, group_mask(2))
    assert (out2 - out).abs().max() > 1e-4


def test_group_mask_layout():
    m = group_mask(3)
    assert m[:2].all() and m[:, :2].all()
    assert torch.equal(m[2:, 2:], torch.eye(3, dtype=torch.bool))
    mi = group_mask(2, independent=True)
    assert not mi[2:, :2].any() and mi[:2].all()


def _record_lora_deltas(transformer):
    """Forward hooks on every LoRA layer: per call, max |LoRA output − base output|."""
    calls = []
    hooks = []
    for name, mod in transformer.named_modules():
        if mod in lora_layers([transformer]) and hasattr(mod, "base_layer"):
            def hook(m, inp, out, name=name):
                calls.append((name, float((out - m.base_layer(inp[0])).abs().max())))
            hooks.append(mod.register_forward_hook(hook))
    return calls, hooks


@torch.no_grad()
def test_lora_routing_on_activations(tmp_path):
    """Text and latent branches run the base weights, condition branches the active adapter with
    scaling exactly 1; swapping the bokeh LoRA changes only what flows from the conditions."""
    pipe = tiny_pipeline()
    tr = pipe.transformer
    write_official_lora(tmp_path / "a.safetensors", tr, seed=1)
    write_official_lora(tmp_path / "d.safetensors", tr, seed=9)
    pipe.load_genfocus_lora(tmp_path / "a.safetensors", "bokeh")
    pipe.load_genfocus_lora(tmp_path / "d.safetensors", "deblur")
    x, txt, pooled, ids, tids = _inputs()
    c = torch.randn(1, 12, 16)
    t, g = torch.tensor([0.5]), torch.tensor([1.0])
    branches = [Branch(x, ids, t, g), Branch(c, ids, 0 * t, g, "bokeh")]
    calls, hooks = _record_lora_deltas(tr)
    out_a = multibranch_forward(tr, Branch(txt, tids, t, g), branches, pooled)
    for h in hooks:
        h.remove()
    by_mod = {}
    for name, d in calls:
        by_mod.setdefault(name, []).append(d)
    for name, deltas in by_mod.items():
        n_base = 2 if name.startswith("single_transformer_blocks") else 1  # [text,] latent first
        assert all(d == 0.0 for d in deltas[:n_base]), (name, deltas)
        assert all(d > 0.0 for d in deltas[n_base:]), (name, deltas)
    # scaling exactly 1 (alpha/r ignored): the LoRA delta of x_embedder for the condition is B·A·c
    lx = tr.x_embedder
    want = lx.lora_B["bokeh"](lx.lora_A["bokeh"](c))
    with torch.no_grad():
        from genrefocus.models.branches import route_lora

        with route_lora([lx], "bokeh"):
            got = lx(c) - lx.base_layer(c)
    torch.testing.assert_close(got, want)
    # swap the bokeh LoRA: the latent branch's own projections at block 0 are unchanged,
    # the output changes
    q_in = {}
    hook = tr.transformer_blocks[0].attn.to_q.register_forward_hook(
        lambda m, i, o: q_in.setdefault(len(q_in), o.clone()))
    multibranch_forward(tr, Branch(txt, tids, t, g), branches, pooled)
    pipe.delete_adapters("bokeh")
    write_official_lora(tmp_path / "b.safetensors", tr, seed=2)
    pipe.load_genfocus_lora(tmp_path / "b.safetensors", "bokeh")
    q_first = dict(q_in)
    q_in.clear()
    out_b = multibranch_forward(tr, Branch(txt, tids, t, g), branches, pooled)
    hook.remove()
    torch.testing.assert_close(q_in[0], q_first[0])  # latent branch: same activations
    assert (q_in[1] - q_first[1]).abs().max() > 1e-3  # condition branch: new LoRA
    assert (out_a - out_b).abs().max() > 1e-4
