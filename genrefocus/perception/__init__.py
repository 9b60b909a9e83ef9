"""Off-the-shelf estimators behind small interfaces: depth (Depth Pro), segmentation (SAM, BiRefNet)."""

from .depth import DEPTH_PRO_ID, DepthPro
from .segmentation import BiRefNetSegmenter, SamPrompter, in_focus_mask

__all__ = ["DepthPro", "DEPTH_PRO_ID", "SamPrompter", "BiRefNetSegmenter", "in_focus_mask"]
