"""User-facing pipelines (physical renderer now; generative and dual-pixel to come)."""

from .physical import PhysicalRefocusOutput, PhysicalRefocusPipeline

__all__ = ["PhysicalRefocusPipeline", "PhysicalRefocusOutput"]
