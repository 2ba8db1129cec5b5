"""What the planner asks of a dynamics model: scene flow for a batch of candidate robot motions.

A dynamics is any callable ``dynamics(scene, rollout) -> (K, T, N, 3)``: ``scene`` has ``xyz``
(N, 3) (a ``PointCloud``) and :class:`Rollout` carries the K candidates both as joint paths
(what a simulator needs) and as robot point flows (what a point-flow world model needs). A
world model with ``predict(scene, robot_flow)`` is adapted by :func:`world_model_dynamics`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = ["Dynamics", "Rollout", "as_dynamics", "world_model_dynamics", "zero_dynamics"]


@dataclass(frozen=True)
class Rollout:
    """K candidate motions of one planning batch.

    q: (K, T+1, J) joint positions (rad, m; float32 from the planner), q[:, 0] = q0, the actions
    after it.
    robot_flow: (K, T+1, M, 3) float32 robot surface points along q (m, world frame).
    """

    q: Tensor
    robot_flow: Tensor

    @property
    def K(self) -> int:
        return int(self.q.shape[0])


@runtime_checkable
class Dynamics(Protocol):
    """Anything that predicts scene flow from candidate motions: ``dynamics(scene, rollout)``
    returns (K, T, N, 3) displacements (m) of the scene's N points from t0."""

    def __call__(self, scene: Any, rollout: Rollout) -> Tensor: ...


def world_model_dynamics(model: Any) -> Callable[[Any, Rollout], Tensor]:
    """Adapt a world model with ``predict(scene, robot_flow (K, T+1, M, 3)) -> (K, T, N, 3)``."""
    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"world_model_dynamics: expected an object with predict(), got {type(model).__name__}")

    def dynamics(scene: Any, rollout: Rollout) -> Tensor:
        with torch.no_grad():
            return model.predict(scene, rollout.robot_flow)

    return dynamics


def zero_dynamics(scene: Any, rollout: Rollout) -> Tensor:
    """The null model: (K, T, N, 3) zeros (m) for a scene of N points: nothing moves. The
    control that shows what a planner's cost achieves with no prediction at all."""
    K, T1 = rollout.robot_flow.shape[:2]
    return rollout.robot_flow.new_zeros(K, T1 - 1, len(scene.xyz), 3)


def as_dynamics(world_model: Any) -> Callable[[Any, Rollout], Tensor]:
    """A world model (``predict`` is used) or a :class:`Dynamics` callable, as a dynamics."""
    if callable(getattr(world_model, "predict", None)):
        return world_model_dynamics(world_model)
    if callable(world_model):
        return world_model
    raise TypeError(
        f"world_model: expected a WorldModel or a callable (scene, rollout) -> flows, got {type(world_model).__name__}"
    )
