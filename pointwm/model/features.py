"""Per-token input features and their embeddings (PointWorld's scene and robot tokens).

Scene token (one per scene point, at t0): re-centred xyz (m), rgb in [0, 1], unit normal
(zeros where absent) → ``SCENE_FEATURES`` = 9 channels.

Robot token (one per robot point per step t = 0..T): re-centred position (m), unit normal,
gripper opening (0 closed .. 1 open), velocity and acceleration by finite differences
over the steps (scaled to O(1)), a sinusoidal embedding of the step index, and a learned
embedding of the robot type.

Contact features (optional, ``ModelConfig.contact_features``; an addition to PointWorld's
inputs): for each scene point and each step t = 0..T, the offset to the nearest robot point
at t, how close it is, and that robot point's velocity → ``7 * (T + 1)`` channels, embedded
and added to the scene token. They tell every point directly when and from where the robot
comes near, which the backbone otherwise has to find by attention.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pointwm.errors import InputError

__all__ = [
    "CONTACT_FEATURES_PER_STEP",
    "SCENE_FEATURES",
    "ContactEmbedding",
    "RobotEmbedding",
    "SceneEmbedding",
    "contact_features",
    "robot_features",
    "scene_features",
    "sinusoidal_embedding",
]

SCENE_FEATURES = 9
CONTACT_FEATURES_PER_STEP = 7


def sinusoidal_embedding(t: Tensor, dim: int, max_period: float = 100.0) -> Tensor:
    """Sinusoidal embedding (…, dim) of step indices ``t`` (…,) (Vaswani et al. 2017).

    Frequencies are geometric from 1 to 1 / max_period (steps); ``dim`` must be even.
    """
    if dim % 2:
        raise InputError(f"sinusoidal_embedding: dim must be even, got {dim}")
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


def contact_features(
    scene_xyz: Tensor,
    robot_flow: Tensor,
    velocity_scale: float = 50.0,
    offset_scale: float = 0.05,
    max_offset: float = 0.15,
    closeness_scale: float = 0.02,
) -> Tensor:
    """Contact features (N, 7 * (T+1)) float32 of N scene points under one robot motion.

    Args:
        scene_xyz: (N, 3) float, metres, t0 scene points (same frame as ``robot_flow``).
        robot_flow: (T+1, M, 3) float, metres, robot surface points per step.
        velocity_scale: multiplies the robot point's velocity in metres per step.
        offset_scale: the offset is divided by it (m), after its length is capped at
            ``max_offset`` (m): a point far from the robot sees a saturated direction.
        closeness_scale: closeness is ``exp(-distance / closeness_scale)`` (m).

    Per step t, in this order: offset from the point to its nearest robot point at t (3),
    closeness (1), and that robot point's velocity (3, central differences over the steps).
    """
    xyz = scene_xyz.float()
    flow = robot_flow.float()
    steps = flow.shape[0]
    vel = torch.gradient(flow, dim=0)[0] if steps > 1 else torch.zeros_like(flow)
    # nearest robot point per step: argmin over m of |r_m|^2 - 2 x.r_m (|x|^2 is the same for
    # every m), one batched matmul; the offset below is then computed exactly
    score = torch.baddbmm(flow.square().sum(-1)[:, None, :], xyz[None].expand(steps, -1, -1),
                          flow.transpose(1, 2), alpha=-2.0)  # (T+1, N, M)
    nearest = score.min(-1).indices  # (T+1, N); min is faster than argmin on CPU, same first index
    idx = nearest[..., None].expand(-1, -1, 3)
    off = torch.gather(flow, 1, idx) - xyz  # (T+1, N, 3), exact
    dist = torch.linalg.vector_norm(off, dim=-1, keepdim=True)
    capped = off / torch.clamp(dist / max_offset, min=1.0)
    parts = [capped / offset_scale, torch.exp(-dist / closeness_scale), torch.gather(vel, 1, idx) * velocity_scale]
    return torch.cat(parts, dim=-1).transpose(0, 1).reshape(xyz.shape[0], -1)


class ContactEmbedding(nn.Module):
    """Contact features (N, 7 * (T+1)) → (N, C) added to the scene tokens.

    Linear → LayerNorm → GELU → Linear, the last layer zero-initialised: a model that gains
    this branch starts as the model without it (fine-tuning from a checkpoint without it).
    """

    def __init__(self, channels: int, num_steps: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(CONTACT_FEATURES_PER_STEP * (num_steps + 1), channels), nn.LayerNorm(channels), nn.GELU(),
            nn.Linear(channels, channels),
        )
        with torch.no_grad():
            self.net[-1].weight.zero_()
            self.net[-1].bias.zero_()

    def forward(self, feat: Tensor) -> Tensor:
        return self.net(feat)


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
