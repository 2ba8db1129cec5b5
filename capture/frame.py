"""``RGBDFrame``: one camera's colour + depth image with its calibration."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from capture.camera import CaptureError, Intrinsics
from pointwm.geometry import as_transform


def _image(x, name: str) -> Tensor:
    if isinstance(x, np.ndarray):
        if x.dtype == np.uint16:
            x = x.astype(np.int32)
        x = torch.from_numpy(np.array(x) if not x.flags.writeable else np.ascontiguousarray(x))
    if not isinstance(x, Tensor):
        raise CaptureError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")
    return x


def as_color(color, name: str = "color") -> Tensor:
    """(H, W, 3) float32 in [0, 1] from uint8 or float input."""
    c = _image(color, name)
    if c.ndim != 3 or c.shape[-1] != 3:
        raise CaptureError(f"{name}: expected an (H, W, 3) RGB image, got shape {tuple(c.shape)}")
    if c.dtype == torch.uint8:
        return c.float() / 255.0
    if c.is_floating_point():
        c = c.float()
        if c.numel() and (not torch.isfinite(c).all() or c.min() < 0 or c.max() > 1):
            raise CaptureError(f"{name}: float colours must lie in [0, 1]")
        return c
    raise CaptureError(f"{name}: expected uint8 or float colours, got {c.dtype}")


def as_depth(depth, name: str = "depth") -> Tensor:
    """(H, W) float32 metres; 0 or non-finite means no reading. Integer input is refused
    (convert millimetres with ``depth_mm / 1000`` first, or use ``load_capture``)."""
    d = _image(depth, name)
    if d.ndim != 2:
        raise CaptureError(f"{name}: expected an (H, W) depth image, got shape {tuple(d.shape)}")
    if not d.is_floating_point():
        raise CaptureError(
            f"{name}: expected float depth in metres, got {d.dtype} "
            "(integer depth is raw sensor units: divide by the depth scale first)"
        )
    return d.float()


@dataclass(frozen=True, eq=False)
class RGBDFrame:
    """One RGB-D image from one camera.

    color:       (H, W, 3) float32 in [0, 1] (uint8 input is converted).
    depth:       (H, W) float32 metres, registered to the colour image; 0/NaN/inf = no reading.
    intrinsics:  the colour camera's ``Intrinsics`` (width W, height H).
    T_world_cam: (4, 4) float64 pose of the camera (OpenCV axes) in the world frame.
    name:        camera name, unique within a capture.
    timestamp:   seconds (any epoch; RealSense gives ms since its own epoch / 1000).
    meta:        free-form JSON-serialisable extras (serial number, robot joints, ...).
    """

    color: Tensor
    depth: Tensor
    intrinsics: Intrinsics
    T_world_cam: Tensor = field(default_factory=lambda: torch.eye(4, dtype=torch.float64))
    name: str = "cam0"
    timestamp: float = 0.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        color = as_color(self.color)
        depth = as_depth(self.depth)
        if not isinstance(self.intrinsics, Intrinsics):
            raise CaptureError(f"intrinsics: expected Intrinsics, got {type(self.intrinsics).__name__}")
        check_image_matches(depth, self.intrinsics, "depth")
        if color.shape[:2] != depth.shape:
            raise CaptureError(
                f"color and depth differ in size: color is {tuple(color.shape[:2])} (H, W), "
                f"depth is {tuple(depth.shape)}; register depth to colour first"
            )
        T = as_transform(self.T_world_cam, "T_world_cam").double()
        object.__setattr__(self, "color", color)
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "T_world_cam", T)

    @property
    def height(self) -> int:
        return self.depth.shape[0]

    @property
    def width(self) -> int:
        return self.depth.shape[1]


def check_image_matches(image: Tensor, intrinsics: Intrinsics, name: str) -> None:
    h, w = image.shape[:2]
    if (w, h) != (intrinsics.width, intrinsics.height):
        raise CaptureError(
            f"{name} is {w}x{h} (W x H) but the intrinsics are for "
            f"{intrinsics.width}x{intrinsics.height}"
        )
