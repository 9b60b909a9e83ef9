"""The training losses of the CPU models, in one module.

* :func:`charbonnier` — ``mean(√((x − y)² + ε²))``, ε = 1e-3 (JDRL Eq. 7/12/14, UiD, DPDeblurNet);
* :func:`edge`, :func:`frequency` (MIMO-UNet's Fourier-domain L1), :func:`restoration_loss` (multi-scale
  Charbonnier + edge + frequency);
* :func:`detail_energy` — L1 between two images' local RMS Laplacians (ours: a detail term under which a
  sharp answer a pixel or two off costs less than a blurred one in place);
* :func:`uid_loss` — the UiD appendix's losses: multi-scale Charbonnier + edge + frequency for deblurring
  and reblurring, and CoC / CoC-gradient MSE on ``P_rgb(F_init)``:

    L = L_deb(I, Î) + L_reb(B, B̂) + λ_coc·MSE(C, Ĉ) + λ_grad·MSE(∇C, ∇Ĉ),
    L_deb = L_reb = L_char + 0.05·L_edge + 0.01·L_freq,   λ_coc = λ_grad = 0.5,

with ``B̂`` the backward mapping of the ground-truth sharp image ``I``. Two optional terms are ours:
an L1 on the soft-argmin disparity and a refocus term ``L_ref(T, R̂)`` (same restoration loss)
against an exact render ``T`` focused on another plane, which trains Eq. 13 end to end.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..optics.focus_measure import LAPLACE_STENCIL, local_variance_of_laplacian


def _scales(x: torch.Tensor, n: int = 3):
    out = [x]
    for _ in range(n - 1):
        if min(out[-1].shape[-2:]) < 4:
            break
        out.append(F.avg_pool2d(out[-1], 2))
    return out


def charbonnier(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``mean(√((a − b)² + ε²))`` over all elements."""
    return torch.sqrt((a - b) ** 2 + eps * eps).mean()


def edge(a, b):
    """Charbonnier of the two images' Laplacians (per channel, replicated borders)."""
    k = LAPLACE_STENCIL.to(a).view(1, 1, 3, 3).repeat(a.shape[1], 1, 1, 1)
    la = F.conv2d(F.pad(a, (1, 1, 1, 1), mode="replicate"), k, groups=a.shape[1])
    lb = F.conv2d(F.pad(b, (1, 1, 1, 1), mode="replicate"), k, groups=b.shape[1])
    return charbonnier(la, lb)


def frequency(a, b, amplitude: bool = False):
    """Mean absolute difference of the 2-D real FFTs of ``a`` and ``b`` ``(B, C, H, W)`` (MIMO-UNet's
    frequency loss); with ``amplitude``, of their magnitudes only (``||F(a)| − |F(b)||``: blind to a shift
    between the two, so a target that is misaligned by a residual sub-pixel amount still asks for its
    full high-frequency energy instead of the smoothed average a phase-sensitive loss settles on)."""
    fa, fb = torch.fft.rfft2(a), torch.fft.rfft2(b)
    return ((fa.abs() - fb.abs()) if amplitude else (fa - fb)).abs().mean()


def binomial_blur(x: torch.Tensor) -> torch.Tensor:
    """``x`` ``(B, C, H, W)`` through the 3×3 binomial filter (the outer product of ``[1, 2, 1] / 4`` with
    itself; reflected borders): response ``cos²(ω/2)`` per axis — 1 at DC, 0.5 at half the Nyquist
    frequency, 0 at the Nyquist frequency (a pixel-scale checkerboard vanishes)."""
    k1 = torch.tensor([0.25, 0.5, 0.25], dtype=x.dtype, device=x.device)
    c = x.shape[1]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), torch.outer(k1, k1).expand(c, 1, 3, 3), groups=c)


def detail_energy(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor | None = None,
                  window: int = 9, band: str = "full") -> torch.Tensor:
    """Mean absolute difference of the local RMS Laplacians of ``a`` and ``b`` ``(B, C, H, W)`` in [0, 1].

    Per pixel, ``√var(∇²a)`` over the ``window``² box around it (the luma's 4-neighbour Laplacian,
    :func:`~genrefocus.optics.focus_measure.local_variance_of_laplacian`), in intensity units; ``weight``
    ``(B, 1, H, W)`` (e.g. JDRL's calibration mask) makes it a weighted mean. It asks for the target's
    amount of fine detail where it is, not for its phase: a sharp answer one or two pixels off costs less
    than a blurred one in place, where an L1 on the pixels prefers the blurred one (so, against a target
    that is never quite aligned, an L1 settles on the smoothed average).
    A checkerboard of amplitude ``c`` has an RMS Laplacian of ``8c``: the cheapest way to add Laplacian
    energy, which a model trained with ``band="full"`` learns to draw where it has nothing to recover (a
    pixel-scale grid on heavily defocused photos). ``band="binomial"`` measures both images after
    :func:`binomial_blur`, whose response is 0 at the Nyquist frequency: the grid earns nothing, detail at
    two pixels and coarser still counts.
    """
    if band not in ("full", "binomial"):
        raise ValueError(f"detail_energy: band must be 'full' or 'binomial', got {band!r}")
    if band == "binomial":
        a, b = binomial_blur(a), binomial_blur(b)
    ra = torch.sqrt(local_variance_of_laplacian(a, window) + 1e-8)
    rb = torch.sqrt(local_variance_of_laplacian(b, window) + 1e-8)
    d = (ra - rb).abs()
    if weight is None:
        return d.mean()
    return (weight * d).sum() / weight.sum().clamp_min(1e-8)


def restoration_loss(pred, target, scales: int = 3, w_edge: float = 0.05, w_freq: float = 0.01):
    """Multi-scale Charbonnier + edge + frequency."""
    return sum(charbonnier(p, t) + w_edge * edge(p, t) + w_freq * frequency(p, t)
               for p, t in zip(_scales(pred, scales), _scales(target, scales)))


def coc_losses(coc_pred, coc_true):
    """(MSE, gradient MSE) of the CoC map."""
    def grad(x):
        return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]

    (py, px), (ty, tx) = grad(coc_pred), grad(coc_true)
    return F.mse_loss(coc_pred, coc_true), F.mse_loss(py, ty) + F.mse_loss(px, tx)


def uid_loss(out: dict, aif, blurry, coc_true=None, lam_coc: float = 0.5, lam_grad: float = 0.5,
             disparity_true=None, lam_disp: float = 0.0, refocus_target=None, lam_refocus: float = 1.0):
    """Total loss and its parts for a :class:`~genrefocus.models.dp_model.UiDModel` output (call the
    model with ``sharp=aif`` so ``out["reblurred"]`` is the backward mapping of the ground truth).

    ``coc_true`` ``None`` (real captures without a defocus map, e.g. DPDD) drops the CoC terms.
    ``lam_disp`` > 0 adds an L1 term on the soft-argmin disparity (ours, not in the paper: it makes
    the reported disparity map meaningful; for half-disk apertures it is ``0.849 × c`` px).
    ``refocus_target`` (with ``out["refocused"]`` from ``focus_mask=``) adds ``lam_refocus·L_ref``.
    """
    deb = restoration_loss(out["aif"], aif)
    reb = restoration_loss(out["reblurred"], blurry)
    total = deb + reb
    parts = {"deblur": float(deb.detach()), "reblur": float(reb.detach())}
    if coc_true is not None:
        c, g = coc_losses(out["coc"], coc_true)
        total = total + lam_coc * c + lam_grad * g
        parts.update(coc=float(c.detach()), coc_grad=float(g.detach()))
    if refocus_target is not None:
        r = restoration_loss(out["refocused"], refocus_target)
        total = total + lam_refocus * r
        parts["refocus"] = float(r.detach())
    if lam_disp and disparity_true is not None:
        d = F.l1_loss(out["disparity"], disparity_true)
        total = total + lam_disp * d
        parts["disparity"] = float(d.detach())
    return total, parts


__all__ = ["charbonnier", "coc_losses", "edge", "frequency", "restoration_loss", "uid_loss"]
