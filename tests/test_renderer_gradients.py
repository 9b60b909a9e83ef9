"""The occlusion-aware renderers are differentiable in the image and in the CoC map (users optimise
through them): torch.autograd.gradcheck against finite differences on a small float64 case with a
depth edge, a ramp and both sides of the focal plane."""

import pytest
import torch

from genrefocus.optics import apertures
from genrefocus.optics.layered import render_layered


def _case():
    torch.manual_seed(0)
    H = W = 14
    img = torch.rand(1, 3, H, W, dtype=torch.float64)
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    coc = -3.3 + 0.41 * xx + 0.05 * yy  # a ramp through the focal plane
    coc[4:9, 4:9] = 4.37 + 0.03 * yy[4:9, 4:9]  # an object in front, with a depth edge
    return img.requires_grad_(True), coc[None, None].clone().requires_grad_(True)


@pytest.mark.parametrize("grouping", ["focus", "fine"])  # modes "fast" and "layered"
@pytest.mark.parametrize("aperture", ["disk", "heart"])
def test_gradcheck(grouping, aperture):
    img, coc = _case()
    ap = apertures.parse_aperture(aperture)
    fn = lambda i, c: render_layered(i, c, ap, grouping=grouping)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (img, coc), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)
    # the CoC gradient is not trivially zero: the blur radius follows it
    g_img, g_coc = torch.autograd.grad(fn(img, coc).square().sum(), (img, coc))
    assert float(g_coc.abs().max()) > 1e-3 and float(g_img.abs().max()) > 1e-3
