"""PhysicalRefocusPipeline: inputs, focus selection, batching, and errors."""

import numpy as np
import pytest
import torch

from conftest import photo, psnr_np
from genrefocus.cli import main
from genrefocus.errors import InputError
from genrefocus.optics import render_bokeh
from genrefocus.pipelines import PhysicalRefocusPipeline


def test_depth_of_other_size_is_resized_with_warning():
    img = photo("coffee", (64, 96))
    depth = torch.linspace(1, 5, 32).view(1, 1, 32, 1).expand(1, 1, 32, 48).contiguous()
    with pytest.warns(UserWarning, match="resizing"):
        out = PhysicalRefocusPipeline()(img, depth=depth, K=10, focus=(48, 60))
    assert out.image.shape == img.shape and out.disparity.shape == (1, 1, 64, 96)
    # focus on the bottom rows (near, d ≈ 1/4.x): CoC ≈ 0 there
    assert float(out.coc[0, 0, 60].abs().max()) < 0.2


def test_pipeline_focus_and_k_zero():
    img = photo("chelsea", (64, 64))
    disp = torch.rand(1, 1, 64, 64)
    out = PhysicalRefocusPipeline(refine_edges=False)(img, disparity=disp, K=0, focus=(0, 0, 32, 32))
    assert torch.equal(out.image, img)
    assert out.focus_disparity == pytest.approx(float(np.median(disp[0, 0, :32, :32].numpy())))
    # with the edge refinement (the default), the focus is read from the map that is rendered
    out = PhysicalRefocusPipeline()(img, disparity=disp, K=0, focus=(0, 0, 32, 32))
    assert out.focus_disparity == pytest.approx(float(np.median(out.disparity[0, 0, :32, :32].numpy())))
    assert PhysicalRefocusPipeline()(img, disparity=disp, K=5, focus="d=0.3").focus_disparity == pytest.approx(0.3)
    with pytest.raises(InputError, match="no depth"):
        PhysicalRefocusPipeline()(img, K=5)
    with pytest.raises(InputError, match="not both"):
        PhysicalRefocusPipeline()(img, disparity=disp, depth=1 / disp, K=5)
    with pytest.raises(InputError, match="outside the map's range"):
        PhysicalRefocusPipeline()(img, disparity=disp, K=5, focus="d=3")
    with pytest.raises(InputError, match="NaN"):
        PhysicalRefocusPipeline()(img, disparity=disp * float("nan"), K=5)
    with pytest.raises(InputError, match=r"\(B, 3, H, W\)"):
        PhysicalRefocusPipeline()(torch.rand(1, 4, 32, 32), disparity=disp, K=5)
    with pytest.raises(InputError, match="unknown renderer"):
        PhysicalRefocusPipeline(mode="nope")


@pytest.mark.parametrize("mode", ["fast", "layered"])
def test_batch_equals_individual_renders(mode):
    a, b = photo("astronaut", (48, 64)), photo("rocket", (48, 64))
    ca = torch.linspace(-6, 6, 64).view(1, 1, 1, 64).expand(1, 1, 48, 64)
    cb = torch.linspace(8, -3, 48).view(1, 1, 48, 1).expand(1, 1, 48, 64)
    both = render_bokeh(torch.cat([a, b]), torch.cat([ca, cb]), mode=mode, aperture="heart")
    # equal up to float32 FFT round-off (amplified by the 1/γ power in the darkest pixels)
    assert psnr_np(both[0:1], render_bokeh(a, ca, mode=mode, aperture="heart")) > 55
    assert psnr_np(both[1:2], render_bokeh(b, cb, mode=mode, aperture="heart")) > 55


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_requested_without_gpu(tmp_path, capsys):
    from genrefocus.io import save_image

    save_image(photo("coffee", (32, 32)), tmp_path / "i.png")
    np.save(tmp_path / "d.npy", np.ones((32, 32), np.float32))
    rc = main(["render", str(tmp_path / "i.png"), "--depth", str(tmp_path / "d.npy"), "--device", "cuda",
               "-o", str(tmp_path / "o.png")])
    assert rc == 2 and "no CUDA GPU" in capsys.readouterr().err
