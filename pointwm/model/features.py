"""Per-token input features and their embeddings (PointWorld's scene and robot tokens).

Scene token (one per scene point, at t0): re-centred xyz (m), rgb in [0, 1], unit normal
(zeros where absent) → ``SCENE_FEATURES`` = 9 channels.

Robot token (one per robot point per step t = 0..T): re-centred position (m), unit normal,
gripper opening (0 closed .. 1 open), velocity and acceleration by finite differences
over the steps (scaled to O(1)), a sinusoidal embedding of the step index, and a learned
embedding of the robot type.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "SCENE_FEATURES",
    "RobotEmbedding",
    "SceneEmbedding",
    "robot_features",
    "scene_features",
    "sinusoidal_embedding",
]

SCENE_FEATURES = 9


def sinusoidal_embedding(t: Tensor, dim: int, max_period: float = 100.0) -> Tensor:
    """Sinusoidal embedding (…, dim) of step indices ``t`` (…,) (Vaswani et al. 2017).

    Frequencies are geometric from 1 to 1 / max_period (steps); ``dim`` must be even.
    """
    if dim % 2:
        raise ValueError(f"sinusoidal_embedding: dim must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angle = t.to(torch.float32)[..., None] * freqs
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)


def scene_features(xyz: Tensor, color: Tensor | None = None, normals: Tensor | None = None) -> Tensor:
    """Scene token features (N, 9) float32.

    Args:
        xyz: (N, 3) float, metres, in the re-centred frame.
        color: (N, 3) float in [0, 1], or None (zeros).
        normals: (N, 3) float unit normals, or None (zeros).
    """
    zeros = torch.zeros_like(xyz, dtype=torch.float32)
    parts = [xyz.float(), zeros if color is None else color.float(), zeros if normals is None else normals.float()]
    return torch.cat(parts, dim=-1)


def robot_features(
    flow: Tensor,
    normals: Tensor | None = None,
    gripper: Tensor | None = None,
    time_dim: int = 16,
    velocity_scale: float = 50.0,
    acceleration_scale: float = 100.0,
) -> Tensor:
    """Robot token features (…, T+1, M, 13 + time_dim) float32.

    Args:
        flow: (…, T+1, M, 3) float, metres, robot surface points per step, re-centred.
        normals: (…, T+1, M, 3) float unit normals, or None (zeros).
        gripper: (…, T+1) float opening per step in [0, 1], or None (zeros).
        time_dim: width of the sinusoidal step embedding (even).
        velocity_scale: multiplies the velocity in metres per step (0.02 m/step → 1).
        acceleration_scale: multiplies the acceleration in metres per step².

    Velocity and acceleration are central differences over the steps (one-sided at the
    ends, ``torch.gradient``); with a single step both are zero.
    """
    flow = flow.float()
    steps = flow.shape[-3]
    if steps > 1:
        vel = torch.gradient(flow, dim=-3)[0]
        acc = torch.gradient(vel, dim=-3)[0] if steps > 2 else torch.zeros_like(vel)
    else:
        vel = acc = torch.zeros_like(flow)
    normals = torch.zeros_like(flow) if normals is None else normals.float().expand_as(flow)
    if gripper is None:
        grip = flow.new_zeros(flow.shape[:-1] + (1,))
    else:
        grip = gripper.float()[..., None, None].expand(flow.shape[:-1] + (1,))
    t = sinusoidal_embedding(torch.arange(steps, device=flow.device), time_dim)  # (T+1, E)
    t = t[:, None, :].expand(flow.shape[:-1] + (time_dim,))
    return torch.cat([flow, normals, grip, vel * velocity_scale, acc * acceleration_scale, t], dim=-1)


class SceneEmbedding(nn.Module):
    """Scene features (N, 9) → tokens (N, C): Linear → LayerNorm → GELU → Linear."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(SCENE_FEATURES, channels), nn.LayerNorm(channels), nn.GELU(),
            nn.Linear(channels, channels),
        )

    def forward(self, feat: Tensor) -> Tensor:
        return self.net(feat)


class RobotEmbedding(nn.Module):
    """Robot features (…, F) + robot type → tokens (…, C).

    ``forward(feat (…, 13 + time_dim), robot_type (…,) int64)``; the type embedding is a
    learned vector per robot type id in [0, num_robot_types).
    """

    def __init__(self, channels: int, time_dim: int, num_robot_types: int) -> None:
        super().__init__()
        self.num_robot_types = num_robot_types
        self.net = nn.Sequential(
            nn.Linear(13 + time_dim, channels), nn.LayerNorm(channels), nn.GELU(),
            nn.Linear(channels, channels),
        )
        self.robot_type = nn.Embedding(num_robot_types, channels)

    def forward(self, feat: Tensor, robot_type: Tensor) -> Tensor:
        return self.net(feat) + self.robot_type(robot_type)
