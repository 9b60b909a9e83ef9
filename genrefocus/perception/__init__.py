"""Off-the-shelf estimators behind small interfaces: depth (Depth Anything V2, Depth Pro), segmentation
(SAM, BiRefNet, OWLv2 text boxes)."""

from .depth import (DEPTH_ANYTHING_ID, DEPTH_PRO_ID, DepthAnything, DepthEstimate, DepthPro, RelativeAsMetric,
                    load_depth_estimator)
from .segmentation import OWLV2_ID, SAM_ID, BiRefNetSegmenter, SamPrompter, TextBoxDetector, in_focus_mask

__all__ = ["DepthAnything", "DEPTH_ANYTHING_ID", "DepthEstimate", "DepthPro", "DEPTH_PRO_ID", "RelativeAsMetric",
           "load_depth_estimator", "SamPrompter", "BiRefNetSegmenter", "TextBoxDetector", "in_focus_mask",
           "OWLV2_ID", "SAM_ID"]
