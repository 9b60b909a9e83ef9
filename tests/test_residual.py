"""``highpass_residual`` against the Gaussian's closed-form frequency response."""

import math

import pytest
import torch

from genrefocus.models.residual import highpass_residual


@pytest.mark.parametrize("period,sigma", [(16.0, 4.0), (40.0, 8.0), (6.0, 2.0)])
def test_highpass_of_a_sinusoid_has_the_gaussian_closed_form_gain(period, sigma):
    # G_σ multiplies cos(2πx/P) by exp(−2π²σ²/P²), so r − G_σ∗r keeps 1 − exp(−2π²σ²/P²) of it
    x = torch.arange(256, dtype=torch.float64)
    wave = torch.cos(2 * math.pi * x / period).view(1, 1, 1, -1).expand(1, 2, 64, -1).contiguous()
    out = highpass_residual(wave, sigma)
    m = int(3 * sigma) + 1
    gain = (out[..., m:-m] * wave[..., m:-m]).sum() / (wave[..., m:-m] ** 2).sum()
    assert float(gain) == pytest.approx(1 - math.exp(-2 * math.pi ** 2 * sigma ** 2 / period ** 2), abs=0.012)


def test_highpass_removes_a_constant_and_keeps_the_local_mean_at_zero():
    flat = torch.full((2, 3, 40, 50), 0.37)
    assert torch.allclose(highpass_residual(flat, 8.0), torch.zeros_like(flat), atol=1e-6)
    noise = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(highpass_residual(noise, 0.0), noise)               # σ = 0: off
    assert abs(float(highpass_residual(noise, 3.0).mean())) < 2e-3        # no brightness shift
    with pytest.raises(ValueError, match="B, C, H, W"):
        highpass_residual(noise[0], 3.0)
