"""Animated GIF of a rollout: the scene points moving under a flow, step by step."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from pointwm.errors import InputError
from pointwm.viz.bundle import FlowScene
from pointwm.viz.static import _equal_limits_3d, _subsample, new_figure

__all__ = ["render_rollout_gif"]


def render_rollout_gif(
    scene: FlowScene,
    path: str | os.PathLike,
    which: str = "auto",
    fps: float = 3.0,
    max_points: int = 20_000,
    point_size: float = 3.0,
    size_px: tuple[int, int] = (720, 360),
    seed: int = 0,
) -> Path:
    """Save a GIF with one frame per step 0..T (T+1 frames; 1 when there is no motion).

    Each frame shows a perspective view (left) and a top-down view (right) of the scene points
    at step t (``xyz + flow[t-1]``), coloured by their displacement from t0 (grey when still,
    shading to red at the rollout's largest displacement), the robot's points at step t (dark
    grey) and goal targets (magenta crosses). Axes are fixed across frames.

    which: "pred", "gt" or "auto" (the prediction, else the ground truth).
    fps:   frames per second of the GIF. Returns the path.
    """
    if fps <= 0:
        raise InputError(f"render_rollout_gif: fps must be > 0, got {fps}")
    path = Path(path)
    T = scene.num_steps
    flow = scene.flow(which)
    keep = _subsample(scene.num_points, max_points, seed)
    base = scene.color[keep]
    vmax = max(float(np.linalg.norm(flow[:, keep], axis=2).max()) if flow is not None and len(keep) else 0.0, 1e-3)
    red = np.array([0.9, 0.1, 0.1], np.float32)
    robot_all = scene.robot_flow.reshape(-1, 3)
    every = [scene.positions(t, which)[keep] for t in range(T + 1)]
    extent = np.concatenate([*every, robot_all]) if len(robot_all) else np.concatenate(every)
    lo2, hi2 = extent[:, :2].min(0) - 0.02, extent[:, :2].max(0) + 0.02

    dpi = 80
    fig = new_figure(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    frames = []
    for t in range(T + 1):
        fig.clf()
        p = every[t]
        w = (np.linalg.norm(p - scene.xyz[keep], axis=1) / vmax)[:, None] if t else np.zeros((len(p), 1))
        c = np.clip((1 - w) * base + w * red, 0, 1)
        robot = scene.robot_flow[min(t, scene.robot_flow.shape[0] - 1)]
        ax3 = fig.add_subplot(1, 2, 1, projection="3d")
        ax3.scatter(p[:, 0], p[:, 1], p[:, 2], c=c, s=point_size, linewidths=0, depthshade=False)
        if len(robot):
            ax3.scatter(robot[:, 0], robot[:, 1], robot[:, 2], c="0.25", s=point_size, linewidths=0,
                        depthshade=False)
        _equal_limits_3d(ax3, extent)
        ax3.view_init(elev=35, azim=-150)
        ax3.set_axis_off()
        ax2 = fig.add_subplot(1, 2, 2)
        order = np.argsort(p[:, 2])
        ax2.scatter(p[order, 0], p[order, 1], c=c[order], s=point_size, linewidths=0)
        if len(robot):
            ax2.scatter(robot[:, 0], robot[:, 1], c="0.25", s=point_size / 2, linewidths=0, alpha=0.5)
        if scene.goal_targets is not None and len(scene.goal_targets):
            ax2.scatter(scene.goal_targets[:, 0], scene.goal_targets[:, 1], c="magenta", marker="x", s=25)
        ax2.set_xlim(lo2[0], hi2[0])
        ax2.set_ylim(lo2[1], hi2[1])
        ax2.set_aspect("equal")
        ax2.tick_params(labelsize=6)
        fig.suptitle(f"{scene.name}  step {t}/{T}", fontsize=9)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        frames.append(Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors=128))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".gif", dir=path.parent)
    os.close(fd)
    try:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(round(1000 / fps)), loop=0, disposal=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
