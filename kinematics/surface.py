"""Link surfaces (meshes and primitives via trimesh) and deterministic area sampling.

Each link's geometry is gathered into one triangle soup in the link frame. Points are drawn
over the triangles of *all* links at once with probability proportional to area, so the
count per link follows its share of the robot's surface, and the total is exact.
Sampling uses a numpy Generator seeded by the caller only: the same URDF and seed always
give the same points in the same order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import trimesh

from kinematics.errors import KinematicsError
from kinematics.urdf import LinkSpec, ShapeSpec

__all__ = ["LinkSurface", "load_link_surfaces", "sample_surface"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class LinkSurface:
    """Triangles of one link in its own frame.

    vertices: (V, 3) float64 metres. faces: (F, 3) int64.
    """

    vertices: np.ndarray
    faces: np.ndarray

    @property
    def area(self) -> float:
        return float(_triangle_areas(self.vertices[self.faces]).sum()) if len(self.faces) else 0.0


def _triangle_areas(tri: np.ndarray) -> np.ndarray:
    return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=-1)


def _shape_mesh(shape: ShapeSpec, link: str):
    if shape.kind == "box":
        m = trimesh.creation.box(extents=shape.size)
    elif shape.kind == "cylinder":
        m = trimesh.creation.cylinder(radius=shape.size[0], height=shape.size[1], sections=32)
    elif shape.kind == "sphere":
        m = trimesh.creation.icosphere(subdivisions=3, radius=shape.size[0])
    else:
        try:
            m = trimesh.load(str(shape.mesh_path), force="mesh", skip_materials=True, process=False)
        except Exception as e:  # trimesh raises many types for unreadable files
            raise KinematicsError(
                f"link {link!r}: cannot load mesh {str(shape.mesh_path)!r}: {type(e).__name__}: {e}"
            ) from None
        if not isinstance(m, trimesh.Trimesh) or len(m.faces) == 0:
            raise KinematicsError(f"link {link!r}: mesh {str(shape.mesh_path)!r} has no triangles")
        m = trimesh.Trimesh(
            np.asarray(m.vertices, dtype=np.float64) * np.asarray(shape.scale), m.faces, process=False
        )
    v = np.asarray(m.vertices, dtype=np.float64) @ shape.T_link_shape[:3, :3].T + shape.T_link_shape[:3, 3]
    return v, np.asarray(m.faces, dtype=np.int64)


def load_link_surfaces(links: Sequence[LinkSpec]) -> dict[str, LinkSurface]:
    """{link name: LinkSurface} for every link (links without geometry get no triangles)."""
    out = {}
    for link in links:
        vs, fs, n = [], [], 0
        for shape in link.shapes:
            v, f = _shape_mesh(shape, link.name)
            vs.append(v)
            fs.append(f + n)
            n += len(v)
        if vs:
            out[link.name] = LinkSurface(np.concatenate(vs), np.concatenate(fs))
        else:
            out[link.name] = LinkSurface(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    return out


def sample_surface(
    surfaces: Sequence[LinkSurface], num_points: int, seed: int,
    dense_links: Sequence[int] = (), dense_fraction: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exactly ``num_points`` points drawn by area over all links' triangles.

    surfaces: one LinkSurface per link, in link order. dense_links, dense_fraction: link
    indices that get ``dense_fraction`` of the points in expectation (by area among
    themselves), the other links the rest (by area among themselves): the gripper, which
    makes the contacts, can be sampled far more finely than its share of the area.
    Returns points (M, 3) float64 in their link frames (metres), unit normals (M, 3) in
    link frames, and link index (M,) int64; sorted by link index (stable), so each link's
    points are contiguous. Deterministic for a given seed.
    """
    if isinstance(num_points, bool) or not isinstance(num_points, int | np.integer) or num_points < 1:
        raise KinematicsError(f"num_points: expected a positive integer, got {num_points!r}")
    tris, link_of = [], []
    for k, s in enumerate(surfaces):
        if len(s.faces):
            tris.append(s.vertices[s.faces])
            link_of.append(np.full(len(s.faces), k, dtype=np.int64))
    if not tris:
        raise KinematicsError("the robot has no visual or collision geometry to sample points from")
    tri = np.concatenate(tris)  # (F, 3, 3)
    link_of = np.concatenate(link_of)
    area = _triangle_areas(tri)
    total = area.sum()
    if not np.isfinite(total) or total <= 0:
        raise KinematicsError("the robot's surface has zero (or non-finite) area")
    p = area / total
    if dense_fraction > 0 and len(dense_links):
        dense = np.isin(link_of, np.asarray(list(dense_links), dtype=np.int64))
        a_dense, a_rest = area[dense].sum(), area[~dense].sum()
        if a_dense <= 0:
            raise KinematicsError("dense_links: the listed links have no surface to sample")
        p = np.where(dense, dense_fraction * area / a_dense,
                     (1.0 - dense_fraction) * area / a_rest if a_rest > 0 else 0.0)
        p = p / p.sum()
    rng = np.random.default_rng(seed)
    face = rng.choice(len(tri), size=int(num_points), p=p)
    face.sort(kind="stable")  # sorted faces -> sorted links, order independent of the draw
    r1, r2 = rng.random((2, int(num_points)))
    flip = r1 + r2 > 1
    r1[flip], r2[flip] = 1 - r1[flip], 1 - r2[flip]
    t = tri[face]
    pts = t[:, 0] + r1[:, None] * (t[:, 1] - t[:, 0]) + r2[:, None] * (t[:, 2] - t[:, 0])
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-300)
    return pts, n, link_of[face]
