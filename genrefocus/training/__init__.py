"""LoRA training for DeblurNet / BokehNet / aperture-shape adapters (DESIGN §4.3)."""

from .config import TrainConfig, load_config

__all__ = ["TrainConfig", "load_config"]
