"""The world model: scene at t0 + robot point flow → scene flow (PointWorld, PTv3 backbone).

- ``structure``: :class:`PointBatch`, the packed point batch.
- ``serialization``: z-order / Hilbert codes, :func:`encode`, :func:`serialize`.
- ``modules``: patch attention, blocks, grid pooling / unpooling.
- ``backbone``: :class:`PointTransformerV3`, :class:`BackboneConfig`.
- ``features``: scene and robot token features and embeddings.
- ``config``: :class:`ModelConfig` (``configs/model/*.yaml``).
- ``world_model``: :class:`WorldModel` (``predict``, ``load``, ``save``): the joint architecture.
- ``factored``: :class:`FactoredWorldModel`, the scene encoded once and each candidate decoded
  on its interaction set (``interaction``).
- ``checkpoint``: safetensors checkpoints. ``loss``: :func:`flow_loss`.
- ``ensemble``: :class:`ModelEnsemble` (the mean of several models), :func:`load_models`.
"""

from pointwm.model.backbone import BackboneConfig, PointTransformerV3
from pointwm.model.checkpoint import CheckpointError
from pointwm.model.config import DecoderConfig, ModelConfig
from pointwm.model.ensemble import ModelEnsemble, load_models
from pointwm.model.factored import FactoredWorldModel
from pointwm.model.loss import flow_loss, motion_weight
from pointwm.model.structure import PointBatch
from pointwm.model.world_model import (
    RobotInput,
    SceneContext,
    WorldModel,
    WorldModelOutput,
    count_parameters,
    lift_to_full,
    prepare_scene,
)

__all__ = [
    "BackboneConfig",
    "CheckpointError",
    "DecoderConfig",
    "FactoredWorldModel",
    "ModelConfig",
    "ModelEnsemble",
    "PointBatch",
    "PointTransformerV3",
    "RobotInput",
    "SceneContext",
    "WorldModel",
    "WorldModelOutput",
    "count_parameters",
    "flow_loss",
    "lift_to_full",
    "load_models",
    "motion_weight",
    "prepare_scene",
]
