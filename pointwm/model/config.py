"""``ModelConfig``: the world model's size and input conventions, loaded from YAML."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from pointwm.errors import ConfigError
from pointwm.model.backbone import BackboneConfig

__all__ = ["ARCHITECTURES", "DecoderConfig", "ModelConfig", "default_flow_std"]

ARCHITECTURES = ("joint", "factored")  # ModelConfig.architecture


def default_flow_std(num_steps: int) -> tuple[float, ...]:
    """Per-step displacement std (m): linear from 3 cm at t=1 to 7.4 cm at t=T (DROID)."""
    if num_steps == 1:
        return (0.03,)
    return tuple(0.03 + (0.074 - 0.03) * i / (num_steps - 1) for i in range(num_steps))


@dataclass(frozen=True)
class DecoderConfig:
    """The per-candidate decoder of the ``factored`` architecture (``pointwm.model.factored``)
    and the interaction set it decodes. Units: metres.

    channels: width of the per-point and coarse decoder tokens.
    coarse_stride: the coarse cells are ``coarse_stride`` finest voxels wide (a power of
        two); decoder blocks attend among a candidate's coarse cells.
    depth / num_heads / patch_size / mlp_ratio: the coarse decoder blocks (PTv3 blocks).
    reach: a scene point within ``reach`` of some robot point at some step is in the
        candidate's interaction set, with every point of its object (a cluster of the
        scene's non-support points, linked at ``link``), and every point of the objects
        within ``chain`` of those (one hop: an object pushed into another). The rest of the
        scene gets zero flow without being decoded.
    link: cluster link distance (points closer than it belong to one object).
    chain: object-to-object distance at which a moved object may move another.
    support_band: points within this height above the support plane (the largest horizontal
        surface, a table) belong to the support, never to an object.
    """

    channels: int = 32
    coarse_stride: int = 4
    depth: int = 2
    num_heads: int = 4
    patch_size: int = 256
    mlp_ratio: float = 2.0
    reach: float = 0.05
    link: float = 0.03
    chain: float = 0.02
    support_band: float = 0.01

    def __post_init__(self) -> None:
        s = self.coarse_stride
        if s < 2 or s & (s - 1):
            raise ConfigError(f"DecoderConfig.coarse_stride: expected a power of two >= 2, got {s}")
        if self.channels < 1 or self.channels % self.num_heads or self.depth < 0 or self.patch_size < 1:
            raise ConfigError(
                f"DecoderConfig: channels ({self.channels}) must be >= 1 and divisible by num_heads "
                f"({self.num_heads}); depth >= 0, patch_size >= 1"
            )
        for name in ("reach", "link", "chain", "support_band"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"DecoderConfig.{name}: expected a distance > 0 (m), got {getattr(self, name)}")


@dataclass(frozen=True)
class ModelConfig:
    """World-model configuration (``configs/model/*.yaml``).

    name: label. num_steps: T, predicted steps (the robot flow has T + 1).
    grid_size: voxel edge (m) of the backbone's finest grid, in the re-centred frame.
    serialization_depth: bits per axis of the finest grid (the scene must fit in
        ``2 ** depth * grid_size`` metres around its centre: 61 m at 12 bits, 1.5 cm).
    max_scene_points / scene_voxel_size (m): larger scenes are voxelised (and the voxel
        grown until they fit) before prediction; predictions are lifted back.
    time_dim: width of the step embedding. num_robot_types: robot-type embedding rows.
    velocity_scale / acceleration_scale: multipliers of finite differences (m/step, m/step²).
    flow_std: (T,) per-step displacement std (m) for normalisation; None = DROID default.
        The trained values live in the checkpoint's ``flow_std`` buffer.
    contact_features: add per scene point the offset to, closeness of and velocity of its
        nearest robot point at every step (``features.contact_features``; not in PointWorld).
    log_var_min / log_var_max: clamp of the predicted log-variance.
    candidate_chunk: candidates per backbone pass in ``predict`` on a GPU (bounds memory).
    cpu_candidate_chunk: the same on a CPU, where larger passes are slower per candidate
        (measured: 16 at once costs 1.6-1.9x per candidate what 1-2 at once do, cache-bound).
    backbone: :class:`BackboneConfig`.
    architecture: ``joint`` (PointWorld's: one backbone over the scene tokens and every
        step's robot tokens together; each candidate costs a whole pass) or ``factored``
        (``pointwm.model.factored``: the backbone encodes the scene alone, once; a light
        decoder reads each candidate's contact features on its interaction set; needs
        ``contact_features``).
    decoder: :class:`DecoderConfig`, the ``factored`` decoder (ignored by ``joint``).
    """

    name: str = "custom"
    num_steps: int = 10
    grid_size: float = 0.015
    serialization_depth: int = 12
    max_scene_points: int = 12000
    scene_voxel_size: float = 0.015
    time_dim: int = 16
    num_robot_types: int = 4
    velocity_scale: float = 50.0
    acceleration_scale: float = 100.0
    flow_std: tuple[float, ...] | None = None
    contact_features: bool = False
    log_var_min: float = -10.0
    log_var_max: float = 10.0
    candidate_chunk: int = 16
    cpu_candidate_chunk: int = 2
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    architecture: str = "joint"
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"ModelConfig.architecture: expected one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.architecture == "factored" and not self.contact_features:
            raise ConfigError("ModelConfig: the factored architecture reads contact features; set contact_features: true")
        if self.num_steps < 1:
            raise ConfigError(f"ModelConfig.num_steps must be >= 1, got {self.num_steps}")
        if not self.grid_size > 0 or not self.scene_voxel_size > 0:
            raise ConfigError(
                f"ModelConfig: grid_size and scene_voxel_size must be > 0 m, got "
                f"{self.grid_size}, {self.scene_voxel_size}"
            )
        n_pool = len(self.backbone.enc_depths) - 1
        if not n_pool + 1 <= self.serialization_depth <= 18:
            raise ConfigError(
                f"ModelConfig.serialization_depth must be in [{n_pool + 1}, 18], got {self.serialization_depth}"
            )
        if self.time_dim < 2 or self.time_dim % 2:
            raise ConfigError(f"ModelConfig.time_dim must be even and >= 2, got {self.time_dim}")
        if self.flow_std is not None:
            object.__setattr__(self, "flow_std", tuple(float(s) for s in self.flow_std))
            if len(self.flow_std) != self.num_steps or min(self.flow_std) <= 0:
                raise ConfigError(
                    f"ModelConfig.flow_std must hold {self.num_steps} positive values, got {self.flow_std}"
                )
        if min(self.candidate_chunk, self.cpu_candidate_chunk, self.max_scene_points, self.num_robot_types) < 1:
            raise ConfigError(
                "ModelConfig: candidate_chunk, cpu_candidate_chunk, max_scene_points and "
                "num_robot_types must be >= 1"
            )

    @property
    def resolved_flow_std(self) -> tuple[float, ...]:
        return self.flow_std if self.flow_std is not None else default_flow_std(self.num_steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields; a ``joint`` model's (the default) omit the architecture and
        decoder, so configs and checkpoints from before they existed read the same."""
        d = asdict(self)
        if self.architecture == "joint":
            del d["architecture"], d["decoder"]
        return _lists(d)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> ModelConfig:
        """Build from a plain dict (YAML / JSON); unknown keys raise ``ValueError`` naming them."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping, got {type(data).__name__}")
        data = dict(data)
        bb = data.pop("backbone", {}) or {}
        dec = data.pop("decoder", {}) or {}
        known = {f.name for f in fields(cls)} - {"backbone", "decoder"}
        bb_known = {f.name for f in fields(BackboneConfig)}
        dec_known = {f.name for f in fields(DecoderConfig)}
        unknown = (sorted(set(data) - known) + [f"backbone.{k}" for k in sorted(set(bb) - bb_known)]
                   + [f"decoder.{k}" for k in sorted(set(dec) - dec_known)])
        if unknown:
            raise ConfigError(f"{source}: unknown model config keys {unknown}")
        bb = {k: tuple(v) if isinstance(v, list) else v for k, v in bb.items()}
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        try:
            return cls(**data, backbone=BackboneConfig(**bb), decoder=DecoderConfig(**dec))
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> ModelConfig:
        """Load ``configs/model/<name>.yaml``-style files."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model config {path}: no such file")
        with open(path) as f:
            data = yaml.safe_load(f)
        return cls.from_dict(data, source=f"model config {path}")


def _lists(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _lists(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return [_lists(v) for v in x]
    return x
