"""Which scene points a robot motion can move: the interaction set of the factored model.

A scene is split once into its support (the largest horizontal surface, a table, and the
points just above it that face up) and objects (connected clusters of the other points,
linked at ``link``). A candidate motion's interaction set is every point of each object
that some robot point comes within ``reach`` of at some step, and of each object within
``chain`` of such an object (one hop: an object pushed into its neighbour). Nothing else can
move under that motion (no action at a distance; the support is static), so the factored
model gives those points zero flow without decoding them. The rule is part of the model's
definition, in training and in prediction alike, so leaving those points out is exact.

Units: metres; frames: any (heights are compared along z, so the frame's z must point up,
as the robot base frame's does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from torch import Tensor

__all__ = ["SceneObjects", "interaction_sets", "scene_objects"]


@dataclass(frozen=True)
class SceneObjects:
    """The static split of one scene of N points.

    object_id: (N,) int64, each point's object, -1 for the support.
    neighbours: (O, O) bool, objects within ``chain`` of each other (the diagonal set).
    tree: a KD-tree over the object points (``object_index`` gives their rows).
    object_index: (P,) int64 rows of the object points.
    """

    object_id: Tensor
    neighbours: Tensor
    tree: cKDTree | None
    object_index: Tensor

    @property
    def num_objects(self) -> int:
        return int(self.neighbours.shape[0])


def _support_height(z: np.ndarray, nz: np.ndarray | None) -> float:
    """The height (m) of the largest horizontal surface: the most populated 1 cm height bin
    of the points facing up or down (|n_z| > 0.9); without normals, the 2nd percentile of z."""
    flat = np.abs(nz) > 0.9 if nz is not None else np.zeros(len(z), bool)
    if flat.sum() < 10:
        return float(np.quantile(z, 0.02))
    zf = z[flat]
    bins = np.floor(zf / 0.01).astype(np.int64)
    values, counts = np.unique(bins, return_counts=True)
    top = values[np.argmax(counts)]
    return float(np.median(zf[(bins >= top - 1) & (bins <= top + 1)]))


def scene_objects(xyz: Tensor, normals: Tensor | None, link: float, chain: float, support_band: float) -> SceneObjects:
    """Split a scene (xyz (N, 3) m, normals (N, 3) or None) into support and objects.

    Support: points less than ``support_band`` above the support height
    (:func:`_support_height`), and, where normals are known, facing up or down
    (|n_z| > 0.95), so the lowest side points of an object, whose normals lean, stay with it. Objects: connected
    components of the other points with edges shorter than ``link``. Neighbours: objects
    with points closer than ``chain``.
    """
    p = xyz.detach().double().cpu().numpy()
    n = len(p)
    nz = None if normals is None else normals.detach().double().cpu().numpy()[:, 2]
    z0 = _support_height(p[:, 2], nz)
    support = p[:, 2] < z0 + support_band
    if nz is not None:
        support &= np.abs(nz) > 0.95
    idx = np.flatnonzero(~support)
    object_id = np.full(n, -1, np.int64)
    if len(idx) == 0:
        return SceneObjects(torch.from_numpy(object_id), torch.zeros(0, 0, dtype=torch.bool), None,
                            torch.zeros(0, dtype=torch.long))
    tree = cKDTree(p[idx])
    pairs = tree.query_pairs(link, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(idx), len(idx)))
    count, labels = connected_components(graph, directed=False)
    object_id[idx] = labels
    near = tree.query_pairs(chain, output_type="ndarray")
    adj = np.eye(count, dtype=bool)
    if len(near):
        a, b = labels[near[:, 0]], labels[near[:, 1]]
        adj[a, b] = adj[b, a] = True
    return SceneObjects(torch.from_numpy(object_id), torch.from_numpy(adj), tree, torch.from_numpy(idx))


def interaction_sets(objects: SceneObjects, robot_flows: Tensor, reach: float) -> Tensor:
    """(K, N) bool: the interaction set of each of K candidate motions.

    robot_flows: (K, T+1, M, 3) robot points per step, in the scene's frame (m). An object
    is touched when one of its points is within ``reach`` of a robot point at some step;
    the set holds the points of the touched objects and of their neighbours.
    """
    K = robot_flows.shape[0]
    N = objects.object_id.shape[0]
    n_obj = objects.num_objects
    if objects.tree is None or n_obj == 0:
        return torch.zeros(K, N, dtype=torch.bool)
    q = robot_flows.detach().reshape(K, -1, 3).double().cpu().numpy()
    # only robot points inside the objects' bounding box grown by ``reach`` can touch one
    pts = objects.tree.data
    lo, hi = pts.min(0) - reach, pts.max(0) + reach
    inside = ((q >= lo) & (q <= hi)).all(-1)
    cand, idx = np.nonzero(inside)
    touched = np.zeros((K, n_obj), bool)
    if len(cand):
        _, hit = objects.tree.query(q[cand, idx], k=1, distance_upper_bound=reach)
        near = hit < len(objects.object_index)
        obj = objects.object_id.numpy()[objects.object_index.numpy()[hit[near]]]
        touched[cand[near], obj] = True
    moved = torch.from_numpy(touched).float() @ objects.neighbours.float() > 0  # (K, objects)
    ids = objects.object_id
    return torch.where(ids[None] >= 0, moved[:, ids.clamp(min=0)], torch.zeros(K, N, dtype=torch.bool))
