"""``TrainConfig``: one training run, loaded from ``configs/train/*.yaml``.

A YAML file holds the run's fields at the top level plus two sub-mappings: ``model`` (a
path to a ``configs/model/*.yaml`` file, relative to the YAML file's folder or to the
repository's ``configs/`` folder, or an inline model config mapping) and ``augment``
(fields of :class:`~pointwm.data.AugmentConfig`). Unknown keys raise ``ValueError``
naming them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pointwm.data.augment import AugmentConfig
from pointwm.errors import ConfigError
from pointwm.model.config import ModelConfig
from pointwm.paths import CONFIGS

__all__ = ["LossConfig", "OptimConfig", "TrainConfig", "load_train_config"]


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warmup then cosine decay.

    lr: peak learning rate. weight_decay, betas: AdamW's. grad_clip: max global L2 norm of
    the gradients (0 = off). warmup_steps: linear ramp from 0 to ``lr``. min_lr_ratio: the
    cosine ends at ``lr * min_lr_ratio`` at the run's last step.
    """

    lr: float = 1e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 5.0
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05

    def __post_init__(self) -> None:
        if not self.lr > 0 or self.weight_decay < 0 or self.grad_clip < 0 or self.warmup_steps < 0:
            raise ConfigError(f"OptimConfig: lr must be > 0 and weight_decay, grad_clip, warmup_steps >= 0, got {self}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"OptimConfig.min_lr_ratio: expected in [0, 1], got {self.min_lr_ratio}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))


@dataclass(frozen=True)
class LossConfig:
    """Arguments of :func:`pointwm.model.flow_loss`.

    fixed_log_var: constant log σ² (simulation data has exact flows: REFERENCE.md's
        "simulation data uses a constant σ²"); None trains the predicted log-variance.
    max_displacement: metres, targets clipped to ±this. huber_delta: normalised units.
    moved_threshold: metres (5 mm). min_weight: weight floor of static points.
    near_robot_weight: weight floor of the points that some robot point comes within
        ``near_robot_radius`` (m) of during the clip, moved or not (0: off, PointWorld's loss).
    """

    fixed_log_var: float | None = 0.0
    max_displacement: float = 0.5
    huber_delta: float = 1.0
    moved_threshold: float = 0.005
    min_weight: float = 0.01
    near_robot_weight: float = 0.0
    near_robot_radius: float = 0.03

    def __post_init__(self) -> None:
        if not 0.0 <= self.near_robot_weight <= 1.0:
            raise ConfigError(f"LossConfig.near_robot_weight: expected in [0, 1], got {self.near_robot_weight}")
        if not self.near_robot_radius > 0:
            raise ConfigError(f"LossConfig.near_robot_radius: expected metres > 0, got {self.near_robot_radius}")


@dataclass(frozen=True)
class TrainConfig:
    """A training run.

    name: label. model: :class:`ModelConfig`. augment: load-time augmentations.
    steps: optimiser steps of the run. batch_size: clips per step per process.
    num_robot_points: M, robot surface points from forward kinematics.
    norm_clips: clips (from the archive's start, no augmentation) whose moved points give
        the per-step ``flow_std`` stored in the model.
    seed: data order, augmentation and model randomness (drop-path) all derive from it.
    shuffle: shuffle the shard order each pass over the data.
    num_workers: DataLoader worker processes (0 = load in the training process).
    checkpoint_every / keep_checkpoints: write a checkpoint every N steps, keep the last K
        (the final one is always written). log_every: CSV / TensorBoard row every N steps.
    bf16: bf16 autocast of the forward pass on CUDA devices (ignored on the CPU).
    threads: torch intra-op threads per process (0 = leave torch's default).
    """

    name: str = "run"
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    steps: int = 1000
    batch_size: int = 4
    num_robot_points: int = 500
    norm_clips: int = 200
    seed: int = 0
    shuffle: bool = True
    num_workers: int = 1
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    log_every: int = 10
    bf16: bool = True
    threads: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "num_robot_points", "checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TrainConfig.{name}: expected >= 1, got {getattr(self, name)}")
        for name in ("norm_clips", "num_workers", "threads"):
            if getattr(self, name) < 0:
                raise ConfigError(f"TrainConfig.{name}: expected >= 0, got {getattr(self, name)}")

    def with_overrides(self, **changes: Any) -> TrainConfig:
        """A copy with top-level fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return _plain(d)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "train config", base_dir: Path | None = None) -> TrainConfig:
        """Build from a mapping (YAML / JSON). ``model`` may be a path or a mapping."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping, got {type(data).__name__}")
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown train config keys {unknown}")
        model = data.pop("model", None)
        if isinstance(model, str):
            model = ModelConfig.from_yaml(_resolve(model, base_dir, source))
        elif isinstance(model, dict):
            model = ModelConfig.from_dict(model, source=f"{source}: model")
        elif model is None:
            model = ModelConfig()
        elif not isinstance(model, ModelConfig):
            raise ConfigError(f"{source}: model must be a path or a mapping, got {type(model).__name__}")
        subs = {}
        for key, sub_cls in (("augment", AugmentConfig), ("optim", OptimConfig), ("loss", LossConfig)):
            sub = data.pop(key, None) or {}
            if isinstance(sub, sub_cls):
                subs[key] = sub
                continue
            if not isinstance(sub, dict):
                raise ConfigError(f"{source}: {key} must be a mapping, got {type(sub).__name__}")
            bad = sorted(set(sub) - {f.name for f in fields(sub_cls)})
            if bad:
                raise ConfigError(f"{source}: unknown {key} keys {bad}")
            try:
                subs[key] = sub_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()})
            except TypeError as e:
                raise ConfigError(f"{source}: {key}: {e}") from None
        try:
            return cls(model=model, **subs, **data)
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from None


def _resolve(path: str, base_dir: Path | None, source: str) -> Path:
    """A model-config path: as given, next to the train config, or under ``configs/``."""
    candidates = [Path(path)]
    if base_dir is not None:
        candidates.append(base_dir / path)
    candidates.append(CONFIGS / path)
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(f"{source}: model config {path!r} not found (looked in {[str(c) for c in candidates]})")


def load_train_config(path: str | Path) -> TrainConfig:
    """Load ``configs/train/<name>.yaml``-style files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"train config {path}: no such file")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    return TrainConfig.from_dict(data, source=f"train config {path}", base_dir=path.parent)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return [_plain(v) for v in x]
    return x
