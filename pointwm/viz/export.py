"""PLY export of a scene with its per-point flow as vertex attributes (Open3D reads them)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from pointwm.geometry import PointCloud
from pointwm.ply import write_ply
from pointwm.viz.bundle import FlowScene

__all__ = ["flow_attributes", "write_flow_ply"]


def flow_attributes(scene: FlowScene, which: str = "auto", all_steps: bool = True) -> dict[str, np.ndarray]:
    """Per-point float32 attributes (each (N,)) describing the flow, for ``write_ply``.

    ``flow_x, flow_y, flow_z`` (metres): displacement at the last step T; ``flow_mag``: its
    length; with ``all_steps``, also ``flow_t{t}_x/_y/_z`` for every step t = 1..T. Empty when
    the scene has no flow of the kind asked for.
    """
    flow = scene.flow(which)
    if flow is None:
        return {}
    out: dict[str, np.ndarray] = {}
    last = flow[-1]
    for i, axis in enumerate("xyz"):
        out[f"flow_{axis}"] = last[:, i]
    out["flow_mag"] = np.linalg.norm(last, axis=1)
    if all_steps:
        for t in range(1, flow.shape[0] + 1):
            for i, axis in enumerate("xyz"):
                out[f"flow_t{t}_{axis}"] = flow[t - 1, :, i]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def write_flow_ply(scene: FlowScene, path: str | os.PathLike, which: str = "auto",
                   all_steps: bool = True) -> Path:
    """Write the t0 scene (xyz, colour) with ``flow_attributes`` as a binary PLY, atomically.

    Read it back with ``pointwm.ply.read_ply`` or Open3D's tensor API
    (``o3d.t.io.read_point_cloud(path).point["flow_x"]``). Returns the path.
    """
    cloud = PointCloud(torch.from_numpy(scene.xyz), color=torch.from_numpy(np.clip(scene.color, 0, 1)))
    return write_ply(path, cloud, flow_attributes(scene, which, all_steps))
