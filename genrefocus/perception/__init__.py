"""Off-the-shelf estimators behind small interfaces: depth (Depth Anything V2, Depth Pro), segmentation
(SAM, BiRefNet)."""

from .depth import (DEPTH_ANYTHING_ID, DEPTH_PRO_ID, DepthAnything, DepthEstimate, DepthPro, RelativeAsMetric,
                    load_depth_estimator)
from .segmentation import BiRefNetSegmenter, SamPrompter, in_focus_mask

__all__ = ["DepthAnything", "DEPTH_ANYTHING_ID", "DepthEstimate", "DepthPro", "DEPTH_PRO_ID", "RelativeAsMetric",
           "load_depth_estimator", "SamPrompter", "BiRefNetSegmenter", "in_focus_mask"]
