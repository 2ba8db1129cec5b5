"""Static renders for reports: a perspective view and a top-down view of a cloud or a flow."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import cm
from matplotlib import colors as mcolors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Line3DCollection

from pointwm.atomic import atomic_path
from pointwm.errors import InputError
from pointwm.geometry import PointCloud
from pointwm.viz.bundle import FlowScene

__all__ = ["render_cloud_png", "render_flow_png"]


def new_figure(figsize: tuple[float, float], dpi: float | None = None) -> Figure:
    """A matplotlib figure drawn by Agg, without pyplot: no global backend or figure state,
    so a notebook's own backend is left alone and nothing needs closing."""
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _savefig_atomic(fig, path: Path, dpi: int) -> None:
    with atomic_path(path, fsync=False) as tmp:
        fig.savefig(tmp, dpi=dpi)


def render_cloud_png(
    cloud: PointCloud,
    path: str | os.PathLike,
    title: str | None = None,
    max_points: int = 60_000,
    point_size: float = 2.0,
    dpi: int = 110,
    seed: int = 0,
) -> Path:
    """Save a two-panel PNG of ``cloud``: perspective (left) and top-down x-y (right).

    Points are drawn in their own colours (grey when the cloud has none); clouds larger
    than ``max_points`` are subsampled uniformly with ``seed``. Returns the path.
    """
    path = Path(path)
    arrays = cloud.numpy()
    xyz = arrays["xyz"]
    color = arrays.get("color", np.full_like(xyz, 0.5))
    keep = _subsample(len(xyz), max_points, seed)
    xyz, color = xyz[keep], color[keep]
    fig = new_figure(figsize=(12, 5.5))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax3.scatter(xyz[:, 0], xyz[:, 1], xyz[:, 2], c=color, s=point_size, linewidths=0, depthshade=False)
    ax3.set_xlabel("x (m)")
    ax3.set_ylabel("y (m)")
    ax3.set_zlabel("z (m)")
    _equal_limits_3d(ax3, xyz)
    ax3.view_init(elev=35, azim=-150)
    ax3.set_title("perspective")
    ax2 = fig.add_subplot(1, 2, 2)
    order = np.argsort(xyz[:, 2])  # higher points drawn last, as seen from above
    ax2.scatter(xyz[order, 0], xyz[order, 1], c=color[order], s=point_size * 2, linewidths=0)
    ax2.set_aspect("equal")
    ax2.set_xlabel("x (m)")
    ax2.set_ylabel("y (m)")
    ax2.set_title("top-down")
    ax2.grid(alpha=0.3)
    fig.suptitle(title or f"{len(cloud)} points")
    fig.tight_layout()
    _savefig_atomic(fig, path, dpi)
    return path


def _subsample(n: int, max_points: int, seed: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` points (all, in order, when n is small)."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def _equal_limits_3d(ax, xyz: np.ndarray) -> None:
    if len(xyz):
        lo, hi = xyz.min(0), xyz.max(0)
        mid, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3)
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[1] - half, mid[1] + half)
        ax.set_zlim(mid[2] - half, mid[2] + half)


def render_flow_png(
    scene: FlowScene,
    path: str | os.PathLike,
    which: str = "auto",
    step: int | None = None,
    title: str | None = None,
    max_points: int = 30_000,
    max_arrows: int = 1_500,
    min_arrow_m: float = 0.005,
    point_size: float = 2.0,
    dpi: int = 110,
    seed: int = 0,
) -> Path:
    """Save a two-panel PNG of a scene and its flow at ``step`` (default the last, T).

    Left: perspective view of the scene at t0 (own colours), the robot's points at ``step``
    (dark grey), flow segments from t0 to ``step`` coloured by magnitude, goal points (blue)
    and their targets (magenta crosses). Right: top-down x-y view with flow arrows coloured by
    magnitude (metres, colour bar) and the same robot and goal marks.

    which:       "pred", "gt" or "auto" (the prediction, else the ground truth).
    max_arrows:  draw at most this many arrows (the largest-motion points are kept first).
    min_arrow_m: points that move less than this many metres get no arrow (PointWorld's
                 "moved" threshold is 5 mm).
    Returns the path.
    """

    path = Path(path)
    T = scene.num_steps
    step = T if step is None else int(step)
    if not 0 <= step <= max(T, 0):
        raise InputError(f"render_flow_png: step must be in [0, {T}], got {step}")
    flow = scene.flow(which)
    disp = flow[step - 1] if (flow is not None and step > 0) else np.zeros_like(scene.xyz)
    mag = np.linalg.norm(disp, axis=1)
    keep = _subsample(scene.num_points, max_points, seed)
    xyz, color = scene.xyz[keep], scene.color[keep]
    moving = np.flatnonzero(mag >= min_arrow_m)
    arrows = moving[np.argsort(-mag[moving], kind="stable")[:max_arrows]]
    robot = scene.robot_flow[min(step, scene.robot_flow.shape[0] - 1)]
    vmax = max(float(mag.max()) if len(mag) else 0.0, 1e-3)
    norm = mcolors.Normalize(0.0, vmax)
    cmap = matplotlib.colormaps["viridis"]

    fig = new_figure(figsize=(13, 5.8))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax3.scatter(xyz[:, 0], xyz[:, 1], xyz[:, 2], c=color, s=point_size, linewidths=0, depthshade=False)
    if len(robot):
        ax3.scatter(robot[:, 0], robot[:, 1], robot[:, 2], c="0.25", s=point_size, linewidths=0,
                    depthshade=False)
    if len(arrows):
        a0, a1 = scene.xyz[arrows], scene.xyz[arrows] + disp[arrows]
        ax3.add_collection3d(Line3DCollection(np.stack([a0, a1], 1), colors=cmap(norm(mag[arrows])),
                                              linewidths=1.2))
    if scene.goal_idx is not None and len(scene.goal_idx):
        g0, gt = scene.xyz[scene.goal_idx], scene.goal_targets
        ax3.scatter(g0[:, 0], g0[:, 1], g0[:, 2], c="tab:blue", s=12, depthshade=False)
        if gt is not None:
            ax3.scatter(gt[:, 0], gt[:, 1], gt[:, 2], c="magenta", marker="x", s=30, depthshade=False)
    _equal_limits_3d(ax3, np.concatenate([scene.xyz, robot]) if len(robot) else scene.xyz)
    ax3.view_init(elev=35, azim=-150)
    ax3.set_xlabel("x (m)")
    ax3.set_ylabel("y (m)")
    ax3.set_zlabel("z (m)")
    ax3.set_title("perspective")

    ax2 = fig.add_subplot(1, 2, 2)
    order = np.argsort(xyz[:, 2])
    ax2.scatter(xyz[order, 0], xyz[order, 1], c=color[order], s=point_size * 2, linewidths=0)
    if len(robot):
        ax2.scatter(robot[:, 0], robot[:, 1], c="0.25", s=point_size, linewidths=0, alpha=0.5)
    if len(arrows):
        ax2.quiver(scene.xyz[arrows, 0], scene.xyz[arrows, 1], disp[arrows, 0], disp[arrows, 1],
                   mag[arrows], cmap=cmap, norm=norm, angles="xy", scale_units="xy", scale=1.0,
                   width=0.003)
    if scene.goal_idx is not None and len(scene.goal_idx):
        g0, gt = scene.xyz[scene.goal_idx], scene.goal_targets
        ax2.scatter(g0[:, 0], g0[:, 1], c="tab:blue", s=12, label="goal points")
        if gt is not None:
            ax2.scatter(gt[:, 0], gt[:, 1], c="magenta", marker="x", s=30, label="targets")
        ax2.legend(loc="upper right", fontsize=8)
    ax2.set_aspect("equal")
    ax2.set_xlabel("x (m)")
    ax2.set_ylabel("y (m)")
    ax2.set_title("top-down, flow arrows")
    ax2.grid(alpha=0.3)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax2, label="displacement (m)", shrink=0.8)
    kind = {"pred": "predicted", "gt": "ground-truth"}.get(
        which if which != "auto" else ("pred" if scene.pred_flow is not None else "gt"))
    fig.suptitle(title or f"{scene.name}: {scene.num_points} points, {kind} flow at step {step}/{T}, "
                 f"{int((mag >= min_arrow_m).sum())} moved")
    fig.tight_layout()
    _savefig_atomic(fig, path, dpi)
    return path
