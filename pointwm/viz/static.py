"""Static renders for reports: a perspective view and a top-down view of a cloud."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from pointwm.geometry import PointCloud


def _savefig_atomic(fig, path: Path, dpi: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    arrays = cloud.numpy()
    xyz = arrays["xyz"]
    color = arrays.get("color", np.full_like(xyz, 0.5))
    if len(xyz) > max_points:
        keep = np.random.default_rng(seed).choice(len(xyz), max_points, replace=False)
        xyz, color = xyz[keep], color[keep]
    fig = plt.figure(figsize=(12, 5.5))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax3.scatter(xyz[:, 0], xyz[:, 1], xyz[:, 2], c=color, s=point_size, linewidths=0, depthshade=False)
    ax3.set_xlabel("x (m)")
    ax3.set_ylabel("y (m)")
    ax3.set_zlabel("z (m)")
    if len(xyz):
        lo, hi = xyz.min(0), xyz.max(0)
        mid, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3)
        ax3.set_xlim(mid[0] - half, mid[0] + half)
        ax3.set_ylim(mid[1] - half, mid[1] + half)
        ax3.set_zlim(mid[2] - half, mid[2] + half)
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
    plt.close(fig)
    return path
