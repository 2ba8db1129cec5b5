"""Training: configs (``configs/train/*.yaml``), the loop, checkpoints and the data stream.

- ``config``: :class:`TrainConfig` (+ ``OptimConfig``, ``LossConfig``), :func:`load_train_config`.
- ``loop``: :func:`train` (AdamW, warmup + cosine, motion-weighted loss, DDP, resume).
- ``checkpoint``: weights (safetensors) + training state (``torch.load(weights_only=True)``).
- ``data``: :class:`SampleStream` (endless, resumable per-rank stream), :func:`compute_flow_std`.
- ``recipe``: a chain of stages and their archives (``configs/train/recipe.yaml``),
  :func:`load_recipe`, :func:`plan_steps` (the commands still to run).
"""

from pointwm.train.checkpoint import TrainCheckpoint, find_latest, list_checkpoints, load_state
from pointwm.train.config import LossConfig, OptimConfig, TrainConfig, load_train_config
from pointwm.train.data import SampleStream, compute_flow_std
from pointwm.train.loop import TrainResult, lr_factor, train
from pointwm.train.recipe import Recipe, load_recipe, plan_steps

__all__ = [
    "LossConfig",
    "OptimConfig",
    "Recipe",
    "SampleStream",
    "TrainCheckpoint",
    "TrainConfig",
    "TrainResult",
    "compute_flow_std",
    "find_latest",
    "list_checkpoints",
    "load_state",
    "load_recipe",
    "load_train_config",
    "lr_factor",
    "plan_steps",
    "train",
]
