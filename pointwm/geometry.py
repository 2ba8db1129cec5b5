"""Point clouds and rigid transforms: the leaf every other package builds on.

Conventions (DESIGN.md): metres, z-up world frame = robot base frame, colours float32 in
[0, 1]. A transform ``T_a_b`` is a (4, 4) matrix mapping points in frame b to frame a:
``p_a = T_a_b @ p_b`` with column vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from torch import Tensor

from pointwm.errors import InputError

__all__ = [
    "PointCloud",
    "as_transform",
    "invert_transform",
    "look_at",
    "transform_points",
]


def _as_tensor(x, name: str, dtype: torch.dtype | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x if dtype is None else x.to(dtype)
    if isinstance(x, np.ndarray | list | tuple):
        t = torch.as_tensor(np.asarray(x))
        return t if dtype is None else t.to(dtype)
    raise TypeError(f"{name}: expected a torch.Tensor or numpy array, got {type(x).__name__}")


@dataclass(frozen=True, eq=False)
class PointCloud:
    """A set of N points in one frame (the world frame unless said otherwise).

    xyz:     (N, 3) float, metres.
    color:   (N, 3) float32 in [0, 1], or None.
    normals: (N, 3) float, unit length, or None.

    All present fields live on one device and have the same N. The class is immutable;
    methods return new clouds that share storage where they can.
    """

    xyz: Tensor
    color: Tensor | None = None
    normals: Tensor | None = None

    def __post_init__(self) -> None:
        xyz = _as_tensor(self.xyz, "PointCloud.xyz")
        if not xyz.is_floating_point():
            xyz = xyz.float()
        if xyz.ndim != 2 or xyz.shape[-1] != 3:
            raise InputError(f"PointCloud.xyz: expected shape (N, 3), got {tuple(xyz.shape)}")
        object.__setattr__(self, "xyz", xyz)
        for name in ("color", "normals"):
            value = getattr(self, name)
            if value is None:
                continue
            value = _as_tensor(value, f"PointCloud.{name}")
            if not value.is_floating_point():
                raise TypeError(
                    f"PointCloud.{name}: expected a floating-point tensor, got {value.dtype}"
                    + (" (convert uint8 colours with / 255)" if name == "color" else "")
                )
            if value.shape != xyz.shape:
                raise InputError(
                    f"PointCloud.{name}: expected shape {tuple(xyz.shape)} like xyz, "
                    f"got {tuple(value.shape)}"
                )
            if value.device != xyz.device:
                raise InputError(
                    f"PointCloud.{name}: on {value.device}, but xyz is on {xyz.device}"
                )
            object.__setattr__(self, name, value)

    # -- basic properties -------------------------------------------------------------
    def __len__(self) -> int:
        return self.xyz.shape[0]

    @property
    def num_points(self) -> int:
        return self.xyz.shape[0]

    @property
    def device(self) -> torch.device:
        return self.xyz.device

    def _map(self, fn) -> PointCloud:
        return PointCloud(**{
            f.name: None if getattr(self, f.name) is None else fn(getattr(self, f.name))
            for f in fields(self)
        })

    def to(self, *args, **kwargs) -> PointCloud:
        """Move every field, like ``Tensor.to`` (colours stay float32)."""
        out = self._map(lambda t: t.to(*args, **kwargs))
        if out.color is not None and out.color.dtype != torch.float32:
            out = replace(out, color=out.color.float())
        return out

    def select(self, index: Tensor) -> PointCloud:
        """Points picked by a boolean mask (N,) or an index tensor (K,)."""
        index = _as_tensor(index, "index")
        if index.dtype == torch.bool:
            if index.shape != (len(self),):
                raise InputError(f"index: boolean mask of shape ({len(self)},) expected, got {tuple(index.shape)}")
            index = index.nonzero().squeeze(1)  # index_select beats boolean indexing per field
        return self._map(lambda t: t.index_select(0, index.to(t.device)))

    def transform(self, T_new_old: Tensor) -> PointCloud:
        """The cloud expressed in another frame: xyz mapped, normals rotated."""
        T = as_transform(T_new_old, "T_new_old").to(self.xyz)
        normals = None if self.normals is None else self.normals @ T[:3, :3].T
        return PointCloud(transform_points(T, self.xyz), self.color, normals)

    @staticmethod
    def cat(clouds: Sequence[PointCloud]) -> PointCloud:
        """Concatenate clouds; a field is kept only when every cloud has it."""
        if len(clouds) == 0:
            raise InputError("PointCloud.cat: expected at least one cloud")
        out = {}
        for f in fields(PointCloud):
            values = [getattr(c, f.name) for c in clouds]
            out[f.name] = None if any(v is None for v in values) else torch.cat(values)
        return PointCloud(**out)

    def numpy(self) -> dict[str, np.ndarray]:
        """The present fields as float32 numpy arrays on the CPU."""
        return {
            f.name: getattr(self, f.name).detach().cpu().float().numpy()
            for f in fields(self)
            if getattr(self, f.name) is not None
        }


def as_transform(T, name: str = "T") -> Tensor:
    """Check and convert a (4, 4) rigid transform (tensor or array)."""
    T = _as_tensor(T, name)
    if T.shape[-2:] != (4, 4):
        raise InputError(f"{name}: expected a (4, 4) homogeneous transform, got shape {tuple(T.shape)}")
    if not T.is_floating_point():
        T = T.double()
    if not torch.isfinite(T).all():
        raise InputError(f"{name}: contains NaN or inf")
    return T


def transform_points(T_a_b: Tensor, p_b: Tensor) -> Tensor:
    """Map points (..., N, 3) in frame b to frame a with T_a_b (..., 4, 4)."""
    return p_b @ T_a_b[..., :3, :3].transpose(-1, -2) + T_a_b[..., None, :3, 3]


def invert_transform(T_a_b: Tensor) -> Tensor:
    """T_b_a for a rigid T_a_b (..., 4, 4), without a general matrix inverse."""
    R = T_a_b[..., :3, :3]
    t = T_a_b[..., :3, 3:]
    out = torch.zeros_like(T_a_b)
    out[..., :3, :3] = R.transpose(-1, -2)
    out[..., :3, 3:] = -R.transpose(-1, -2) @ t
    out[..., 3, 3] = 1
    return out


def look_at(eye, target, up=(0.0, 0.0, 1.0), dtype: torch.dtype = torch.float64) -> Tensor:
    """T_world_cam of an OpenCV camera (x right, y down, z forward) at ``eye`` looking at ``target``.

    eye, target, up: (3,) world coordinates in metres.
    """
    eye = torch.as_tensor(eye, dtype=dtype)
    target = torch.as_tensor(target, dtype=dtype)
    up = torch.as_tensor(up, dtype=dtype)
    z = target - eye
    if torch.linalg.norm(z) < 1e-9:
        raise InputError("look_at: eye and target coincide")
    z = z / torch.linalg.norm(z)
    x = torch.linalg.cross(z, up)
    if torch.linalg.norm(x) < 1e-9:
        raise InputError("look_at: viewing direction is parallel to up")
    x = x / torch.linalg.norm(x)
    y = torch.linalg.cross(z, x)
    T = torch.eye(4, dtype=dtype)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, eye
    return T
