import math

import numpy as np
import pytest
import torch

from genrefocus.errors import InputError
from genrefocus.optics import apertures
from genrefocus.optics.apertures import parse_aperture, support_radius


def test_disk_is_bokehme_formula():
    ap = apertures.disk()
    r = 3.3
    g = ap.grid(r)
    R = support_radius(r)
    assert g.shape == (2 * R + 1, 2 * R + 1)
    o = np.arange(-R, R + 1)
    dy, dx = np.meshgrid(o, o, indexing="ij")
    want = 0.5 + 0.5 * np.tanh(4 * (r - np.sqrt(dy ** 2 + dx ** 2)))
    np.testing.assert_allclose(g.numpy(), want, atol=1e-6)


def test_polygon_matches_bokehme_scatter_ex_formula():
    n, rot = 6, 90.0
    ap = apertures.polygon(n, rot)
    r = 7.0
    g = ap.grid(r).numpy()
    R = support_radius(r)
    a1, a2 = 2 * math.pi / n, math.pi / 2 - math.pi / n
    for dy in range(-R, R + 1):
        for dx in range(-R, R + 1):
            ang = math.fmod(abs(math.atan2(dy, dx) + math.radians(rot)), a1)
            want = 0.5 + 0.5 * math.tanh(4 * (r * math.sin(a2) / math.sin(ang + a2) - math.hypot(dy, dx)))
            assert g[dy + R, dx + R] == pytest.approx(want, abs=1e-5)


def test_polygon_vertex_and_apothem():
    ap = apertures.polygon(6, 90.0)  # vertex at angle -90° + ... : BokehMe's angle convention
    t = torch.tensor
    # On the boundary, the edge distance is zero: vertex radius 1, mid-edge cos(pi/n).
    ang = -math.pi / 2  # atan2 + rot = 0 -> a vertex
    e = ap.edge_distance(t(math.sin(ang)), t(math.cos(ang)), t(1.0))
    assert float(e) == pytest.approx(0.0, abs=1e-6)
    ang2 = ang + math.pi / 6
    c = math.cos(math.pi / 6)
    e2 = ap.edge_distance(t(c * math.sin(ang2)), t(c * math.cos(ang2)), t(1.0))
    assert float(e2) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("spec", ["disk", "polygon:5", "heart", "star"])
def test_kernel_normalized_and_within_radius(spec):
    ap = parse_aperture(spec)
    k = ap.kernel(9.0)
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-5)
    R = support_radius(9.0)
    o = torch.arange(-R, R + 1, dtype=torch.float32)
    dy, dx = torch.meshgrid(o, o, indexing="ij")
    # almost all the mass inside radius r + 1
    assert float(k[torch.sqrt(dy ** 2 + dx ** 2) <= 10.0].sum()) > 0.995


def test_flip_is_point_reflection():
    ap = apertures.heart()
    g, gf = ap.grid(8.0), ap.grid(8.0, flip=True)
    torch.testing.assert_close(gf, torch.flip(g, dims=(0, 1)))
    assert not torch.allclose(g, gf, atol=1e-2)  # the heart is not point-symmetric
    assert not ap.point_symmetric
    assert apertures.disk().point_symmetric and apertures.polygon(6).point_symmetric
    assert not apertures.polygon(5).point_symmetric


def test_heart_points_down_star_points_up():
    h = apertures.heart().grid(12.0)
    R = h.shape[0] // 2
    # heart: the tip is at the bottom (y down), the notch between the two lobes at the top
    assert float(h[R + 8, R]) > 0.5 and float(h[R - 8, R]) < 0.5
    assert float(h[R - 8, R - 5]) > 0.5 and float(h[R - 8, R + 5]) > 0.5
    s = apertures.star().grid(12.0)
    assert float(s[R - 10, R]) > 0.5  # top point
    assert float(s[R + 8, R]) < 0.5  # between the two lower points


def test_from_image_array_and_file(tmp_path):
    from PIL import Image

    m = np.zeros((64, 64), np.uint8)
    m[16:48, 8:56] = 255  # a 48x32 rectangle
    ap = apertures.from_image(m)
    g = ap.grid(10.0).numpy()
    R = g.shape[0] // 2
    assert g[R, R + 7] > 0.5 and g[R + 7, R] < 0.5  # wider than tall
    p = tmp_path / "rect.png"
    Image.fromarray(m).save(p)
    ap2 = parse_aperture(str(p))
    np.testing.assert_allclose(ap2.grid(10.0).numpy(), g, atol=1e-5)


def test_bad_apertures(tmp_path):
    from PIL import Image

    p = tmp_path / "empty.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(p)
    with pytest.raises(InputError, match="empty"):
        parse_aperture(str(p))
    with pytest.raises(InputError, match="unknown aperture"):
        parse_aperture("hexagon")
    with pytest.raises(InputError, match="3 to 64 blades"):
        parse_aperture("polygon:2")
    with pytest.raises(InputError, match="cannot parse"):
        parse_aperture("polygon:x")
