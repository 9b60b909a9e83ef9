"""Image-quality and controllability metrics (own PSNR/SSIM, LVCorr)."""

from .fidelity import psnr, ssim
from .lvcorr import lvcorr, lvcorr_sweep, pearson

__all__ = ["psnr", "ssim", "lvcorr", "lvcorr_sweep", "pearson"]
