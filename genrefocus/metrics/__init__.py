"""Image-quality and controllability metrics (own PSNR/SSIM, LVCorr) and the SSIM-driven K calibration."""

from .calibration import Calibration, calibrate_k, search_k
from .fidelity import psnr, ssim
from .lvcorr import lvcorr, lvcorr_sweep, pearson

__all__ = ["Calibration", "calibrate_k", "search_k", "psnr", "ssim", "lvcorr", "lvcorr_sweep", "pearson"]
