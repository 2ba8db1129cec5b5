"""Compile a RobotDescription into index tensors, and the pure batched forward kinematics.

Compilation (``compile_tree``) folds every fixed joint into the nearest movable ancestor:
a *body* is the root or a link whose parent joint moves, and every link is a constant
offset from its body. Bodies are ordered by depth; links are grouped by body (each body's
link, then the links rigidly attached to it, breadth first), root first. FK runs over
bodies only, one batched step per tree level (all bodies of one depth at once), and ends
with one batched product for all links. There is no Python loop over the batch.

Inside, the batch is the *last* (contiguous) dimension: (B, 3, 4, N) transforms. Every
elementwise op then runs over long contiguous vectors, which on CPU is an order of
magnitude faster than broadcasting over trailing (3, 3) blocks, and point transforms
become one GEMM per body.

``forward_kinematics(tree, q_ext)`` is a pure function of tensors: it batches over any
leading shape, differentiates, and runs in the dtype and on the device of ``q_ext``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from kinematics.errors import KinematicsError
from kinematics.urdf import RobotDescription

__all__ = ["KinematicTree", "body_transforms", "compile_tree", "forward_kinematics"]

_FIXED, _REVOLUTE, _PRISMATIC = 0, 1, 2


@dataclass(frozen=True, eq=False)
class KinematicTree:
    """The compiled tree. Float tensors are float64 on the CPU; ``to`` casts them.

    B bodies (root first, by depth), L links (grouped by body), S joint-value sources.
    body_src: (B,) long, index into q_ext of each body joint's value (0 for the root).
    body_mult, body_offset: (B,) value = q_ext[src] * mult + offset (mimic joints).
    body_coef: (B, 4, 3, 4) local transform T_parentbody_body (3 x 4, metres) as
        coef[0] + sin(v) coef[1] + (1 - cos(v)) coef[2] + v coef[3] for joint value v:
        Rodrigues' formula folded into the joint origin (revolute: coef[1], coef[2];
        prismatic: coef[3]; the root: coef[0] = identity).
    levels: per depth >= 1, (start, end, parent index relative to the previous level's
        start, whether that index is the identity).
    link_body: (L,) long, the body each link is rigidly attached to (non-decreasing).
    link_offset: (L, 4, 4) T_body_link.
    link_blocks: per body, (body, first link, end link): links are grouped by body.
    link_W: per body, (12, 16 * links of the body): maps the flattened 3 x 4 body transform
        to the flattened 4 x 4 poses of its links (last rows zero; see forward_kinematics).
    """

    link_names: tuple[str, ...]
    body_links: tuple[int, ...]
    body_src: Tensor
    body_mult: Tensor
    body_offset: Tensor
    body_coef: Tensor
    levels: tuple[tuple[int, int, Tensor, bool], ...]
    link_body: Tensor
    link_offset: Tensor
    link_blocks: tuple[tuple[int, int, int], ...]
    link_W: tuple[Tensor, ...]

    @property
    def num_bodies(self) -> int:
        return len(self.body_links)

    def to(self, device=None, dtype: torch.dtype | None = None) -> KinematicTree:
        """The same tree with float tensors in ``dtype`` and all tensors on ``device``."""

        def f(t: Tensor) -> Tensor:
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        return KinematicTree(
            self.link_names, self.body_links, f(self.body_src), f(self.body_mult),
            f(self.body_offset), f(self.body_coef),
            tuple((s, e, f(p), ident) for s, e, p, ident in self.levels),
            f(self.link_body), f(self.link_offset), self.link_blocks, tuple(f(w) for w in self.link_W),
        )


def compile_tree(desc: RobotDescription, value_index: dict[str, tuple[int, float, float]]) -> KinematicTree:
    """Compile ``desc`` given where each movable joint's value comes from.

    value_index: {joint name: (index into q_ext, multiplier, offset)} for every movable
    joint (mimic joints already resolved to their source by the caller).
    """
    children: dict[str, list] = {}
    for j in desc.joints:
        children.setdefault(j.parent, []).append(j)
    # Breadth-first traversal.
    bfs, parent_joint = [desc.root], {desc.root: None}
    i = 0
    while i < len(bfs):
        for j in children.get(bfs[i], []):
            bfs.append(j.child)
            parent_joint[j.child] = j
        i += 1
    # Fold fixed joints: body_of[link], T_body_link, and each body's origin in its parent body.
    body_of: dict[str, str] = {}
    T_body_link: dict[str, np.ndarray] = {}
    body_parent: dict[str, str | None] = {desc.root: None}
    body_origin: dict[str, np.ndarray] = {desc.root: np.eye(4)}
    for name in bfs:
        j = parent_joint[name]
        if j is None:
            body_of[name], T_body_link[name] = name, np.eye(4)
        elif j.type == "fixed":
            body_of[name] = body_of[j.parent]
            T_body_link[name] = T_body_link[j.parent] @ j.origin
        else:
            body_of[name], T_body_link[name] = name, np.eye(4)
            body_parent[name] = body_of[j.parent]
            body_origin[name] = T_body_link[j.parent] @ j.origin
    bfs_idx = {n: k for k, n in enumerate(bfs)}
    bdepth: dict[str, int] = {}
    for name in bfs:
        if name in body_parent:
            p = body_parent[name]
            bdepth[name] = 0 if p is None else bdepth[p] + 1
    bodies = sorted(bdepth, key=lambda n: (bdepth[n], bfs_idx[n]))
    bidx = {n: k for k, n in enumerate(bodies)}
    order = sorted(bfs, key=lambda n: (bidx[body_of[n]], bfs_idx[n]))  # grouped by body
    nb = len(bodies)
    src = np.zeros(nb, dtype=np.int64)
    mult = np.zeros(nb)
    off = np.zeros(nb)
    coef = np.zeros((nb, 4, 3, 4))
    for k, n in enumerate(bodies):
        origin = body_origin[n]
        coef[k, 0] = origin[:3]
        j = parent_joint[n]
        if j is None:
            continue
        a = j.axis
        K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
        if j.type == "prismatic":
            coef[k, 3, :, 3] = origin[:3, :3] @ a
        else:
            coef[k, 1, :, :3] = origin[:3, :3] @ K
            coef[k, 2, :, :3] = origin[:3, :3] @ K @ K
        if j.name not in value_index:
            raise KinematicsError(f"{desc.path}: joint {j.name!r} has no value source")
        src[k], mult[k], off[k] = value_index[j.name]
    levels = []
    max_depth = max(bdepth.values())
    starts = [next(k for k, n in enumerate(bodies) if bdepth[n] == d) for d in range(max_depth + 1)] + [nb]
    for d in range(1, max_depth + 1):
        s, e, prev = starts[d], starts[d + 1], starts[d - 1]
        par = torch.tensor([bidx[body_parent[bodies[k]]] - prev for k in range(s, e)])
        ident = (e - s) == (s - prev) and bool((par == torch.arange(e - s)).all())
        levels.append((s, e, par, ident))
    link_body = [bidx[body_of[n]] for n in order]
    offsets = np.stack([T_body_link[n] for n in order])  # (L, 4, 4)
    link_blocks, link_W = [], []
    for b in range(nb):
        lo, hi = link_body.index(b), len(link_body) - link_body[::-1].index(b)
        W = np.zeros((3, 4, hi - lo, 4, 4))  # [i, k] -> [link, i, j] = offset[link, k, j]
        for i in range(3):
            W[i, :, :, i, :] = offsets[lo:hi].transpose(1, 0, 2)
        link_blocks.append((b, lo, hi))
        link_W.append(torch.tensor(W.reshape(12, 16 * (hi - lo)), dtype=torch.float64))
    f64 = torch.float64
    return KinematicTree(
        tuple(order), tuple(order.index(b) for b in bodies), torch.from_numpy(src),
        torch.tensor(mult, dtype=f64), torch.tensor(off, dtype=f64), torch.tensor(coef, dtype=f64),
        tuple(levels), torch.tensor(link_body), torch.tensor(offsets, dtype=f64),
        tuple(link_blocks), tuple(link_W),
    )


def body_transform_list(tree: KinematicTree, q_ext: Tensor) -> list[Tensor]:
    """Root-frame transforms of every body, batch last, as a list of B views.

    tree: compiled in q_ext's dtype and device (see KinematicTree.to).
    q_ext: (S, N) joint values (rad or m), the batch N last.
    Returns B tensors (3, 4, N): rows of T_root_body (rotation | translation in metres).
    """
    v = q_ext[tree.body_src] * tree.body_mult[:, None] + tree.body_offset[:, None]  # (B, N)
    basis = torch.stack([torch.ones_like(v), torch.sin(v), 1 - torch.cos(v), v], dim=1)  # (B, 4, N)
    local = torch.einsum("bcij,bcn->bijn", tree.body_coef, basis)  # (B, 3, 4, N)
    out = [local[0]]
    level = local[0:1]
    for s, e, par, ident in tree.levels:
        P = level if ident else level[par]  # parents, (n, 3, 4, N)
        C = local[s:e]
        # P @ C for 3 x 4 transforms with implicit last row (0 0 0 1):
        # T[i, j] = sum_k<3 P[i, k] C[k, j] + P[i, 3] [j == 3]; batch innermost.
        T = torch.addcmul(torch.nn.functional.pad(P[:, :, 3:], (0, 0, 3, 0)), P[:, :, 0:1], C[:, None, 0])
        T = T.addcmul_(P[:, :, 1:2], C[:, None, 1]).addcmul_(P[:, :, 2:3], C[:, None, 2])
        out.extend(T.unbind(0))
        level = T
    return out


def body_transforms(tree: KinematicTree, q_ext: Tensor) -> Tensor:
    """(B, 3, 4, N) root-frame body transforms for q_ext (S, N); see body_transform_list."""
    return torch.stack(body_transform_list(tree, q_ext))


def forward_kinematics(tree: KinematicTree, q_ext: Tensor) -> Tensor:
    """Homogeneous link poses T_root_link (..., L, 4, 4) for joint values q_ext (..., S).

    Pure: no checks, no state. Dtype and device are those of ``q_ext``; ``tree`` must match.
    T_root_link = T_root_body @ T_body_link is one GEMM per body, (N, 12) @ (12, 16 L_b),
    written straight into the batch-first output.
    """
    batch = q_ext.shape[:-1]
    q = q_ext.reshape(-1, q_ext.shape[-1]).transpose(0, 1)  # (S, N)
    N, L = q.shape[1], len(tree.link_names)
    Tb = body_transform_list(tree, q)
    if torch.is_grad_enabled() and q.requires_grad:
        out = torch.cat([Tb[b].reshape(12, N).T @ W for W, (b, _, _) in zip(tree.link_W, tree.link_blocks, strict=True)], dim=1)
        last = torch.zeros(4, 4, dtype=out.dtype, device=out.device)
        last[3, 3] = 1
        out = out.view(N, L, 4, 4) + last
    else:
        out = q.new_empty(N, 16 * L)
        for W, (b, lo, hi) in zip(tree.link_W, tree.link_blocks, strict=True):
            torch.mm(Tb[b].reshape(12, N).T, W, out=out[:, 16 * lo: 16 * hi])
        out = out.view(N, L, 4, 4)
        out[..., 3, 3] = 1
    return out.reshape(*batch, L, 4, 4)
