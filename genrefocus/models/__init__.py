"""Network code: FLUX multi-branch conditioning with per-branch LoRA routing, the task table, FLOP model."""

from .branches import Branch, group_mask, multibranch_forward, route_lora
from .tasks import TASKS, Condition, Task, get_task

__all__ = ["Branch", "Condition", "TASKS", "Task", "get_task", "group_mask", "multibranch_forward", "route_lora"]
