"""Aperture shapes as soft raster PSFs at any radius: disk, n-blade polygon, heart, star, any image.

An :class:`Aperture` is a shape that fits the unit circle. It is evaluated at integer pixel offsets
``(dy, dx)`` (``y`` down) for a radius ``r`` in pixels through its *signed edge distance* in pixels
(positive inside), turned into a soft anti-aliased indicator ``0.5 + 0.5·tanh(s·e)`` with BokehMe's
edge sharpness ``s = 4``. For the disk ``e = r − |δ|`` and for the regular polygon
``e = r·b(θ) − |δ|`` (``b`` the boundary radius at angle ``θ``), exactly BokehMe's classical
formulas; other shapes use a signed distance field of a raster mask.

Physics (docs/design.md §3.3): the PSF of a point in front of the focal plane (signed CoC ``c > 0``) is the
aperture rotated by 180° relative to a point behind it; ``flip=True`` evaluates that rotated shape.
"""

from __future__ import annotations

import abc
import math
from pathlib import Path
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError

EDGE_SHARPNESS = 4.0  # BokehMe's tanh edge sharpness (1/px)
MAX_BLADES = 64      # polygons and stars: more blades than this is a disk
MAX_SPEC_LENGTH = 4096


def support_radius(radius: float) -> int:
    """Half-width ``R = ⌊r⌋ + 1`` (px) of BokehMe's square support ``[-R, R]²`` for radius ``r``."""
    return int(math.floor(radius)) + 1


class Aperture(abc.ABC):
    """A shape inside the unit circle, evaluated as a soft indicator at pixel offsets.

    Subclasses implement :meth:`edge_distance`. ``name`` is a short human-readable spec.
    """

    name = "aperture"
    #: True when the shape equals its own 180° rotation (the flip is then a no-op).
    point_symmetric = False

    @abc.abstractmethod
    def edge_distance(self, dy: torch.Tensor, dx: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
        """Signed distance (px, positive inside) of offsets ``(dy, dx)`` (px) to the edge of the
        shape scaled to ``radius`` (px). All arguments broadcast together."""

    def indicator(self, dy, dx, radius, flip: bool = False, sharpness: float = EDGE_SHARPNESS):
        """Soft indicator in [0, 1] at offsets ``(dy, dx)`` (px) for ``radius`` (px); broadcasts."""
        if flip:
            dy, dx = -dy, -dx
        return 0.5 + 0.5 * torch.tanh(sharpness * self.edge_distance(dy, dx, radius))

    def grid(self, radius: float, flip: bool = False, half_width: int | None = None,
             device=None, dtype=torch.float32) -> torch.Tensor:
        """Soft indicator sampled on the square ``[-R, R]²`` (``R = ⌊r⌋+1`` unless given): ``(2R+1, 2R+1)``."""
        R = support_radius(radius) if half_width is None else int(half_width)
        o = torch.arange(-R, R + 1, device=device, dtype=dtype)
        dy, dx = torch.meshgrid(o, o, indexing="ij")
        r = torch.tensor(float(radius), device=device, dtype=dtype)
        return self.indicator(dy, dx, r, flip=flip)

    def kernel(self, radius: float, flip: bool = False, device=None, dtype=torch.float32) -> torch.Tensor:
        """The PSF at ``radius`` (px), normalized to sum 1: ``(2R+1, 2R+1)``."""
        g = self.grid(radius, flip=flip, device=device, dtype=dtype)
        return g / g.sum()

    def __repr__(self) -> str:
        return f"Aperture({self.name})"


class Disk(Aperture):
    """Circular aperture: ``e = r − |δ|`` (BokehMe's classical renderer)."""

    name = "disk"
    point_symmetric = True

    def edge_distance(self, dy, dx, radius):
        return radius - torch.sqrt(dy * dy + dx * dx)


class Polygon(Aperture):
    """Regular ``n``-blade polygon, one vertex at angle ``rotation`` (degrees, counter-clockwise
    from +x with y pointing down as in BokehMe's ``atan2(dy, dx)``); BokehMe's ``scatter_ex``
    formula ``e = r·sin(α₂)/sin(a + α₂) − |δ|`` with ``α₂ = π/2 − π/n``."""

    def __init__(self, n_blades: int, rotation: float = 90.0):
        if not 3 <= int(n_blades) <= MAX_BLADES:
            raise InputError("aperture", f"a polygon needs 3 to {MAX_BLADES} blades, got {n_blades}")
        if not math.isfinite(float(rotation)):
            raise InputError("aperture", f"the polygon rotation must be a finite angle (degrees), got {rotation!r}")
        self.n = int(n_blades)
        self.rotation = float(rotation)
        self.name = f"polygon:{self.n}" + ("" if self.rotation == 90.0 else f":{self.rotation:g}")
        self.point_symmetric = self.n % 2 == 0

    def edge_distance(self, dy, dx, radius):
        sector = 2 * math.pi / self.n
        half = math.pi / 2 - math.pi / self.n
        a = torch.remainder(torch.abs(torch.atan2(dy, dx) + math.radians(self.rotation)), sector)
        boundary = math.sin(half) / torch.sin(a + half)
        return radius * boundary - torch.sqrt(dy * dy + dx * dx)


class RasterAperture(Aperture):
    """Any shape given as a binary mask; evaluated through its signed distance field.

    The mask is centred on its bounding-box centre (``centered=True``, for shapes) or kept where it
    lies with the array centre on the optical axis (``centered=False``, for off-axis pupils such as a
    dual-pixel half disk) and scaled so its farthest point from that centre lies on the unit circle.
    The SDF is tabulated on ``[-2, 2]²`` in unit-shape coordinates and sampled bilinearly; beyond
    that it continues as ``|p| − 1`` (the shape lies in the disk).
    """

    def __init__(self, mask: np.ndarray, name: str = "image", table_size: int = 257, centered: bool = True):
        from scipy import ndimage

        mask = np.asarray(mask) > 0.5
        if mask.ndim != 2 or not mask.any():
            raise InputError(f"aperture {name}", "the aperture image is empty (no pixel above 50 %)")
        ys, xs = np.nonzero(mask)
        if centered:
            cy, cx = (ys.min() + ys.max()) / 2.0, (xs.min() + xs.max()) / 2.0
        else:
            cy, cx = (mask.shape[0] - 1) / 2.0, (mask.shape[1] - 1) / 2.0
        scale = math.sqrt(((ys - cy) ** 2 + (xs - cx) ** 2).max()) + 0.5  # px of the mask per unit
        # Resample the mask on the [-2, 2]^2 table (nearest) and take the Euclidean SDF.
        t = np.linspace(-2.0, 2.0, table_size)
        py, px = np.meshgrid(t, t, indexing="ij")
        iy = np.rint(cy + py * scale).astype(int)
        ix = np.rint(cx + px * scale).astype(int)
        valid = (iy >= 0) & (iy < mask.shape[0]) & (ix >= 0) & (ix < mask.shape[1])
        inside = np.zeros_like(valid)
        inside[valid] = mask[iy[valid], ix[valid]]
        cell = 4.0 / (table_size - 1)
        sdf = ndimage.distance_transform_edt(inside) - ndimage.distance_transform_edt(~inside)
        self._table = torch.from_numpy((sdf * cell).astype(np.float32))[None, None]  # + inside
        self.name = name
        self.point_symmetric = bool(np.array_equal(inside, inside[::-1, ::-1]))

    def edge_distance(self, dy, dx, radius):
        dy, dx, radius = torch.broadcast_tensors(dy, dx, torch.as_tensor(radius, dtype=dy.dtype,
                                                                           device=dy.device))
        r = radius.clamp_min(1e-3)
        py, px = dy / r, dx / r
        table = self._table.to(device=dy.device, dtype=dy.dtype)
        coords = torch.stack([px / 2.0, py / 2.0], dim=-1).reshape(1, -1, 1, 2)
        inside = F.grid_sample(table, coords, mode="bilinear", padding_mode="border",
                               align_corners=True).reshape(dy.shape)
        outside_far = 1.0 - torch.sqrt(py * py + px * px)  # exact lower bound outside the table
        far = (py.abs() > 2.0) | (px.abs() > 2.0)
        return r * torch.where(far, outside_far, inside)


def _polygon_mask(vertices_yx: np.ndarray, size: int = 513) -> np.ndarray:
    from skimage.draw import polygon

    lo, hi = vertices_yx.min(0), vertices_yx.max(0)
    s = (size - 1) / (hi - lo).max()
    rr, cc = polygon((vertices_yx[:, 0] - lo[0]) * s, (vertices_yx[:, 1] - lo[1]) * s,
                     shape=(size, size))
    m = np.zeros((size, size), bool)
    m[rr, cc] = True
    return m


def heart() -> RasterAperture:
    """Heart shape (classic parametric curve), point up."""
    t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))  # y down
    return RasterAperture(_polygon_mask(np.stack([y, x], 1)), name="heart")


def star(points: int = 5, inner_ratio: float = 0.382) -> RasterAperture:
    """``points``-pointed star, one point up; inner vertices at ``inner_ratio`` of the outer."""
    if points < 3:
        raise InputError("aperture", f"a star needs at least 3 points, got {points}")
    k = np.arange(2 * points)
    ang = -np.pi / 2 + k * np.pi / points
    rad = np.where(k % 2 == 0, 1.0, inner_ratio)
    verts = np.stack([rad * np.sin(ang), rad * np.cos(ang)], 1)
    return RasterAperture(_polygon_mask(verts), name="star" if points == 5 else f"star:{points}")


def disk() -> Disk:
    """Circular aperture (BokehMe's default)."""
    return Disk()


def polygon(n_blades: int, rotation: float = 90.0) -> Polygon:
    """Regular ``n_blades``-gon; ``rotation`` in degrees (BokehMe's default 90°: a vertex up)."""
    return Polygon(n_blades, rotation)


def from_image(path: Union[str, Path, np.ndarray], name: str | None = None) -> RasterAperture:
    """Aperture from an image file or array: pixels brighter than 50 % are inside."""
    if isinstance(path, np.ndarray):
        arr = path.astype(np.float32)
        if arr.ndim == 3:
            arr = arr.mean(-1)
        if arr.max() > 1.0:
            arr = arr / arr.max()
        return RasterAperture(arr, name=name or "array")
    from ..io import load_image

    img = load_image(path, name="aperture image")[0].mean(0).numpy()
    return RasterAperture(img, name=name or Path(path).name)


def parse_aperture(spec: Union[str, Aperture, None]) -> Aperture:
    """``None``/``disk`` · ``polygon:N[:ROT_DEG]`` · ``heart`` · ``star[:N]`` · a path to an image."""
    if spec is None:
        return Disk()
    if isinstance(spec, Aperture):
        return spec
    s = str(spec).strip()
    if not s or len(s) > MAX_SPEC_LENGTH:
        raise InputError("aperture", "empty or absurdly long aperture spec")
    head, _, rest = s.partition(":")
    try:
        if head == "disk" and not rest:
            return Disk()
        if head == "polygon":
            parts = rest.split(":")
            if len(parts) > 2 or not parts[0]:
                raise ValueError("use polygon:N or polygon:N:ROTATION_DEGREES")
            n, rot = int(parts[0]), float(parts[1]) if len(parts) > 1 else 90.0
            return Polygon(n, rot)
        if head == "heart" and not rest:
            return heart()
        if head == "star":
            n = int(rest) if rest else 5
            if not 3 <= n <= MAX_BLADES:
                raise ValueError(f"a star needs 3 to {MAX_BLADES} points, got {n}")
            return star(n)
    except InputError:
        raise
    except ValueError as exc:
        raise InputError("aperture", f"cannot parse {s!r}: {exc}") from None
    if Path(s).is_file():
        return from_image(s)
    raise InputError("aperture", f"unknown aperture {s!r}; use disk, polygon:N[:ROT], heart, star[:N] "
                                 "or the path of an image file")
