"""No banding on smooth depth ramps: the blur width measured on the rendered image grows smoothly
and monotonically along a CoC ramp (issue 14).

The probe (:mod:`genrefocus.metrics.renderer_accuracy`) is horizontal stripes under a CoC ramping
along x; across each edge a disk of radius r has a line-spread function ∝ sqrt(r² − y²) with second
moment r²/4 — a closed form, independent of the renderer — so ``2·sqrt(moment)`` is the blur
radius the renderer produced at each column. Blurring each layer with one radius shows up as a
staircase in that profile (the control below)."""

import pytest

from genrefocus.metrics.renderer_accuracy import (banding_probe, blur_width_profile, probe_ramp, probe_stripes,
                                                  profile_steps)
from genrefocus.optics.layered import render_layered

D2_BOUND = 0.03  # px per column²: < 0.7 × the ramp's own slope; a one-radius-per-layer render is ~0.26


@pytest.mark.parametrize("sign", [-1.0, 1.0])
@pytest.mark.parametrize("mode", ["layered", "fast", "scatter"])
def test_blur_grows_smoothly_along_a_ramp(mode, sign):
    res = banding_probe(mode, sign)
    prof = res["profile"]
    print(f"{mode} sign {sign:+.0f}: radius {float(prof[0]):.2f}..{float(prof[-1]):.2f} px, "
          f"min slope {res['min_slope']:.4f}, max |2nd diff| {res['max_d2']:.4f} px/col²")
    assert res["min_slope"] > 0.0  # monotone
    assert res["max_d2"] < D2_BOUND  # no steps
    # and the measured radius follows the CoC (the estimate lags the ramp by a little)
    assert float((prof - res["coc"]).abs()[prof.numel() // 4:].max()) < 1.5


def test_the_banding_measure_sees_bands():
    """Control: one blur radius per 1-px layer (the CoC rounded) is a staircase the test rejects."""
    out = render_layered(probe_stripes(), probe_ramp(-1.0, 18.0).round(), grouping="focus")
    d1_min, d2_max = profile_steps(blur_width_profile(out))
    assert d2_max > 5 * D2_BOUND and d1_min < 0.0
