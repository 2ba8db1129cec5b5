"""Pinhole camera intrinsics (OpenCV convention)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from pointwm.errors import PointwmError


class CaptureError(PointwmError, ValueError):
    """Bad capture input: a frame, a camera file or a capture directory. Names the input."""


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of a W x H image, OpenCV convention.

    Axes: x right, y down, z forward (the optical axis); units: pixels for fx, fy, cx, cy.
    Pixel (u, v) is column u, row v, with its centre at integer coordinates, so a point
    (X, Y, Z) in the camera frame projects to ``u = fx X / Z + cx``, ``v = fy Y / Z + cy``.
    This is the convention of OpenCV, RealSense (``rs.intrinsics.ppx/ppy``) and Open3D's
    ``PinholeCameraIntrinsic``. Distortion is assumed already removed (RealSense colour
    streams and aligned depth report none or negligible distortion).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise CaptureError(f"Intrinsics.{name}: expected a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.fx <= 0 or self.fy <= 0:
            raise CaptureError(f"Intrinsics: focal lengths must be > 0, got fx={self.fx}, fy={self.fy}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise CaptureError(f"Intrinsics.{name}: expected a positive integer, got {value!r}")

    @property
    def K(self) -> Tensor:
        """(3, 3) float64 camera matrix."""
        return torch.tensor(
            [[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]], dtype=torch.float64
        )

    @classmethod
    def from_fov(cls, width: int, height: int, fov_y_deg: float) -> Intrinsics:
        """A centred camera with vertical field of view ``fov_y_deg`` and square pixels."""
        f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
        return cls(f, f, (width - 1) / 2, (height - 1) / 2, width, height)

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera at another resolution (pixel-centre convention kept)."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(
            self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5,
            width, height,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "intrinsics") -> Intrinsics:
        keys = ("fx", "fy", "cx", "cy", "width", "height")
        if not isinstance(d, dict):
            raise CaptureError(f"{source}: expected an object with keys {keys}, got {type(d).__name__}")
        missing = [k for k in keys if k not in d]
        if missing:
            raise CaptureError(f"{source}: missing keys {missing} (expected {keys})")
        return cls(**{k: d[k] for k in keys})
