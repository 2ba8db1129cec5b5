"""RobotModel: a URDF compiled for batched forward kinematics and robot point flows.

The name-keyed layer (joint names, defaults, limits, YAML) sits here, on top of the pure
tensor functions of ``kinematics.tree``; nothing below it knows joint names.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kinematics.errors import KinematicsError
from kinematics.surface import LinkSurface, load_link_surfaces, sample_surface
from kinematics.tree import KinematicTree, body_transform_list, compile_tree, forward_kinematics
from kinematics.urdf import RobotDescription, parse_urdf

__all__ = ["RobotModel"]

log = logging.getLogger(__name__)


def _as_q(q, name: str) -> Tensor:
    if isinstance(q, Tensor):
        t = q
    elif isinstance(q, np.ndarray | list | tuple | float | int):
        t = torch.as_tensor(np.asarray(q, dtype=np.float64) if not isinstance(q, np.ndarray) else q)
    else:
        raise TypeError(f"{name}: expected a torch.Tensor or numpy array of joint values, got {type(q).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name}: expected floating-point joint values, got dtype {t.dtype}")
    return t


@dataclass(frozen=True, eq=False)
class _Compiled:
    """Per (dtype, device) copies of the compiled tensors.

    Points are grouped by body (links are ordered by body), so body b owns rows
    [3 start_b, 3 end_b) of the batch-last output (3M, N). W_pts[k] (3 P_b, 12) maps the
    flattened 3 x 4 body transform to those rows: row 3 m + i = sum_k T[i, k] [p_m, 1][k].
    W_nrm does the same for normals (no translation).
    """

    tree: KinematicTree
    held: Tensor  # (S - J,) values of movable joints outside the action
    blocks: tuple[tuple[int, int, int], ...]  # (body, first row, end row)
    W_pts: tuple[Tensor, ...]
    W_nrm: tuple[Tensor, ...]


@dataclass(frozen=True, eq=False)
class RobotModel:
    """A robot: joints, links, batched forward kinematics and M surface points.

    Build with ``RobotModel.from_urdf``, or from a robot YAML with ``kinematics.load_robot``.

    joint_names: the J action joints, in action order (rad for revolute, m for prismatic).
    link_names: the L links, root first, grouped by the movable joint that carries them
        (each moving link, then the links fixed to it); the root frame is the world frame.
    lower, upper, velocity_limits, default_q: (J,) float64 CPU tensors (rad, m, rad/s, m/s).
    points_local, normals_local: (M, 3) float64, surface points and unit normals in their
        link frames (metres). point_link: (M,) long, each point's index into link_names.
    point_sampling: how the points were drawn (num_points, seed, geometry, dense_links,
        dense_fraction): what a world-model checkpoint records of the robots it was trained
        with (``WorldModel.check_robot``).
    gripper_joint_names: the action joints that open grippers (G of them).
    tool_link_names: the end-effector (tool) links, one per arm: what a planner moves in
        Cartesian space (``tool_jacobian``).
    """

    name: str
    urdf_path: Path
    description: RobotDescription = field(repr=False)
    joint_names: tuple[str, ...]
    link_names: tuple[str, ...]
    lower: Tensor = field(repr=False)
    upper: Tensor = field(repr=False)
    velocity_limits: Tensor = field(repr=False)
    default_q: Tensor = field(repr=False)
    points_local: Tensor = field(repr=False)
    normals_local: Tensor = field(repr=False)
    point_link: Tensor = field(repr=False)
    gripper_joint_names: tuple[str, ...]
    tool_link_names: tuple[str, ...]
    seed: int
    _tree: KinematicTree = field(repr=False)
    _held: Tensor = field(repr=False)
    _point_gripper_weight: Tensor = field(repr=False)  # (M, G)
    _surfaces: dict[str, LinkSurface] = field(repr=False)
    _cache: dict = field(default_factory=dict, repr=False)
    point_sampling: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_urdf(
        cls,
        path: str | Path,
        num_points: int = 500,
        seed: int = 0,
        *,
        joints: Sequence[str] | None = None,
        default_q: Mapping[str, float] | None = None,
        velocity_limits: Mapping[str, float] | None = None,
        gripper_joints: Sequence[str] | None = None,
        tool_links: Sequence[str] | None = None,
        geometry: str = "visual",
        package_dirs: Mapping[str, str | Path] | None = None,
        name: str | None = None,
        dense_links: Sequence[str] = (),
        dense_fraction: float = 0.0,
    ) -> RobotModel:
        """Parse, validate and compile a URDF.

        path: URDF file. num_points: M, the exact number of surface points, drawn by area
        over all links' geometry with ``seed``. joints: the action joints in order (default:
        every movable, non-mimic joint in file order); other movable joints are held at
        ``default_q`` (or 0 clamped into their limits). default_q: {joint: value} (rad/m).
        velocity_limits: {joint: limit} overriding the URDF (rad/s, m/s). gripper_joints:
        the action joints whose normalised value is the gripper opening (default: prismatic
        joints that another joint mimics). tool_links: the end-effector links, one per arm
        (default: links named ``*tcp``, ``tool0``, ``ee_link`` or ``end_effector``, else the
        child link of the last non-gripper action joint). geometry: "visual" or "collision".
        package_dirs: {package: dir} for ``package://`` meshes. dense_links, dense_fraction:
        links (the gripper, say) that get that fraction of the M points in expectation, the
        other links the rest, each group by area (default: all links by area).
        """
        desc = parse_urdf(path, geometry=geometry, package_dirs=package_dirs)
        where = str(desc.path)
        by_name = {j.name: j for j in desc.joints}
        independent = [j.name for j in desc.joints if j.type != "fixed" and j.mimic is None]
        if joints is None:
            action = list(independent)
        else:
            action = [str(n) for n in joints]
            for n in action:
                if n not in by_name:
                    raise KinematicsError(f"{where}: unknown joint name {n!r} in joints (known: {independent})")
                if n not in independent:
                    why = "fixed" if by_name[n].type == "fixed" else f"a mimic of {by_name[n].mimic!r}"
                    raise KinematicsError(f"{where}: joint {n!r} in joints is {why}, not an actuated joint")
            if len(set(action)) != len(action):
                raise KinematicsError(f"{where}: joints lists a joint twice: {action}")
        defaults = dict(default_q or {})
        for n, v in defaults.items():
            if n not in by_name or n not in independent:
                raise KinematicsError(f"{where}: unknown joint name {n!r} in default_q (known: {independent})")
            if not math.isfinite(float(v)):
                raise KinematicsError(f"{where}: default_q[{n!r}] = {v!r} is not finite")

        def default_of(n: str) -> float:
            j = by_name[n]
            return float(defaults[n]) if n in defaults else float(min(max(0.0, j.lower), j.upper))

        held_names = [n for n in independent if n not in action]
        source = {n: k for k, n in enumerate(action + held_names)}
        value_index: dict[str, tuple[int, float, float]] = {}
        for j in desc.joints:
            if j.type == "fixed":
                continue
            mult, off, cur, seen = 1.0, 0.0, j, {j.name}
            while cur.mimic is not None:  # resolve mimic chains
                mult, off = mult * cur.multiplier, off + mult * cur.offset
                cur = by_name[cur.mimic]
                if cur.name in seen:
                    raise KinematicsError(f"{where}: mimic joints form a cycle through {j.name!r}")
                seen.add(cur.name)
            value_index[j.name] = (source[cur.name], mult, off)
        tree = compile_tree(desc, value_index)
        J = len(action)
        f64 = torch.float64
        lower = torch.tensor([by_name[n].lower for n in action], dtype=f64)
        upper = torch.tensor([by_name[n].upper for n in action], dtype=f64)
        vel = dict(velocity_limits or {})
        for n in vel:
            if n not in action:
                raise KinematicsError(f"{where}: unknown joint name {n!r} in velocity_limits (action joints: {action})")
        vlim = torch.tensor([float(vel.get(n, by_name[n].velocity)) for n in action], dtype=f64)
        dq = torch.tensor([default_of(n) for n in action], dtype=f64)
        held = torch.tensor([default_of(n) for n in held_names], dtype=f64)
        # Grippers.
        if gripper_joints is None:
            mimicked = {j.mimic for j in desc.joints if j.mimic is not None}
            grippers = [n for n in action if by_name[n].type == "prismatic" and n in mimicked]
        else:
            grippers = [str(n) for n in gripper_joints]
            for n in grippers:
                if n not in action:
                    raise KinematicsError(f"{where}: unknown joint name {n!r} in gripper_joints (action joints: {action})")
        # Tool links.
        if tool_links is None:
            tools = [n for n in tree.link_names
                     if n.lower().endswith("tcp") or n.lower() in ("tool0", "ee_link", "end_effector")]
            arm = [n for n in action if n not in grippers]
            if not tools and arm:
                tools = [by_name[arm[-1]].child]
        else:
            tools = [str(n) for n in tool_links]
            for n in tools:
                if n not in tree.link_names:
                    raise KinematicsError(f"{where}: unknown link name {n!r} in tool_links (links: {list(tree.link_names)})")
        # Surface points.
        for n in dense_links:
            if n not in tree.link_names:
                raise KinematicsError(f"{where}: unknown link name {n!r} in dense_links (links: {list(tree.link_names)})")
        if not isinstance(dense_fraction, int | float) or not 0.0 <= dense_fraction < 1.0:
            raise KinematicsError(f"{where}: dense_fraction: expected a number in [0, 1), got {dense_fraction!r}")
        if dense_fraction > 0 and not dense_links:
            raise KinematicsError(f"{where}: dense_fraction {dense_fraction} given without dense_links "
                                  "(the links that should get those points)")
        try:
            surfaces = load_link_surfaces(desc.links)
            pts, nrm, plink = sample_surface([surfaces[n] for n in tree.link_names], num_points, seed,
                                             [tree.link_names.index(n) for n in dense_links], float(dense_fraction))
        except KinematicsError as e:
            raise KinematicsError(f"{where}: {e}") from None
        W = _gripper_weights(desc, tree.link_names, [by_name[g].child for g in grippers])
        model = cls(
            name=name or desc.name, urdf_path=desc.path, description=desc,
            joint_names=tuple(action), link_names=tree.link_names, lower=lower, upper=upper,
            velocity_limits=vlim, default_q=dq, points_local=torch.from_numpy(pts),
            normals_local=torch.from_numpy(nrm), point_link=torch.from_numpy(plink),
            gripper_joint_names=tuple(grippers), tool_link_names=tuple(tools), seed=int(seed), _tree=tree, _held=held,
            _point_gripper_weight=W[torch.from_numpy(plink)], _surfaces=surfaces,
            point_sampling={"num_points": int(num_points), "seed": int(seed), "geometry": str(geometry),
                            "dense_links": sorted(str(n) for n in dense_links) if dense_fraction > 0 else [],
                            "dense_fraction": float(dense_fraction)},
        )
        log.debug("%s: J=%d L=%d bodies=%d M=%d", model.name, J, model.num_links, tree.num_bodies, num_points)
        return model

    # ------------------------------------------------------------------ sizes
    @property
    def num_joints(self) -> int:
        """J, the number of action joints."""
        return len(self.joint_names)

    @property
    def num_links(self) -> int:
        return len(self.link_names)

    @property
    def num_points(self) -> int:
        """M, the number of surface points."""
        return int(self.points_local.shape[0])

    # ------------------------------------------------------------------ names
    def joint_index(self, name: str) -> int:
        """Index of action joint ``name`` in ``joint_names``."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KinematicsError(
                f"unknown joint name {name!r} for robot {self.name!r} (joints: {list(self.joint_names)})"
            ) from None

    def link_index(self, name: str) -> int:
        """Index of link ``name`` in ``link_names``."""
        try:
            return self.link_names.index(name)
        except ValueError:
            raise KinematicsError(
                f"unknown link name {name!r} for robot {self.name!r} (links: {list(self.link_names)})"
            ) from None

    def q_from_dict(self, values: Mapping[str, float], base=None) -> Tensor:
        """A (J,) float64 joint vector: ``base`` (default: default_q) with named values set."""
        q = self.default_q.clone() if base is None else self.check_q(base, "base").double().clone()
        for n, v in values.items():
            q[self.joint_index(n)] = float(v)
        return self.check_q(q, "values")

    def check_q(self, q, name: str = "q") -> Tensor:
        """Validate joint values (..., J): a float tensor with last dim J, all finite."""
        t = _as_q(q, name)
        if t.ndim == 0 or t.shape[-1] != self.num_joints:
            raise KinematicsError(
                f"{name}: expected shape (..., {self.num_joints}) for the {self.num_joints} joints "
                f"{list(self.joint_names)} of robot {self.name!r}, got shape {tuple(t.shape)}"
            )
        finite = torch.isfinite(t)
        if not bool(finite.all()):
            bad = (~finite).reshape(-1, self.num_joints).any(0).nonzero().flatten().tolist()
            raise KinematicsError(
                f"{name}: contains NaN or inf for joints {[self.joint_names[i] for i in bad]}"
            )
        return t

    # ------------------------------------------------------------------ compiled tensors
    def _compiled(self, dtype: torch.dtype, device: torch.device) -> _Compiled:
        key = (dtype, device)
        c = self._cache.get(key)
        if c is None:
            tree = self._tree
            body_of_point = tree.link_body[self.point_link]  # non-decreasing
            # Points and normals in their body frames: p_body = T_body_link p_link.
            off = tree.link_offset[self.point_link]  # (M, 4, 4)
            pb = (off[:, :3, :3] @ self.points_local[..., None]).squeeze(-1) + off[:, :3, 3]
            nb = (off[:, :3, :3] @ self.normals_local[..., None]).squeeze(-1)
            blocks, W_pts, W_nrm = [], [], []
            for b in torch.unique_consecutive(body_of_point).tolist():
                sel = (body_of_point == b).nonzero().flatten()
                lo, hi = int(sel[0]), int(sel[-1]) + 1
                for src, one, out in ((pb, 1.0, W_pts), (nb, 0.0, W_nrm)):
                    ph = torch.cat([src[lo:hi], torch.full((hi - lo, 1), one, dtype=src.dtype)], 1)
                    W = torch.zeros(hi - lo, 3, 3, 4, dtype=torch.float64)
                    for i in range(3):
                        W[:, i, i, :] = ph
                    out.append(W.reshape(3 * (hi - lo), 12).to(device=device, dtype=dtype))
                blocks.append((b, 3 * lo, 3 * hi))
            c = _Compiled(
                tree.to(device=device, dtype=dtype), self._held.to(device=device, dtype=dtype),
                tuple(blocks), tuple(W_pts), tuple(W_nrm),
            )
            self._cache[key] = c
        return c

    def _prepare(self, q, name: str, validate: bool) -> tuple[Tensor, _Compiled]:
        q = self.check_q(q, name) if validate else _as_q(q, name)
        c = self._compiled(q.dtype, q.device)
        if c.held.numel():
            q = torch.cat([q, c.held.expand(*q.shape[:-1], -1)], dim=-1)
        return q, c

    # ------------------------------------------------------------------ kinematics
    def link_poses(self, q, validate: bool = True) -> Tensor:
        """Link poses T_base_link.

        q: (..., J) joint values in joint_names order (rad, m), float32 or float64.
        Returns (..., L, 4, 4) in q's dtype and device, link_names order, metres.
        Differentiable in q. validate=False skips the shape/finite checks (e.g. under
        torch.compile); the caller then owns the input's correctness.
        """
        q_ext, c = self._prepare(q, "q", validate)
        return forward_kinematics(c.tree, q_ext)

    def tool_jacobian(self, q, validate: bool = True, eps: float = 1e-6) -> Tensor:
        """Geometric Jacobian of the tool links, stacked per tool.

        q: (..., J) joint values. Returns (..., 6E, J) in q's dtype, E = len(tool_link_names):
        for each tool, 3 rows of its origin's linear velocity (m per rad or m) then 3 rows of
        its angular velocity (rad per rad or m), both in base-frame axes (Pinocchio's
        LOCAL_WORLD_ALIGNED). Central differences of the float64 forward kinematics.
        """
        if not self.tool_link_names:
            raise KinematicsError(f"robot {self.name!r}: no tool links (set tool_links in its YAML)")
        if validate:
            self._prepare(q, "q", True)
        q = torch.as_tensor(q)
        J = self.num_joints
        batch = q.shape[:-1]
        q64 = q.reshape(-1, 1, J).to(torch.float64)
        d = eps * torch.eye(J, dtype=torch.float64, device=q.device)
        qq = torch.cat([q64 + d, q64 - d], dim=1)  # (B, 2J, J)
        tools = [self.link_names.index(n) for n in self.tool_link_names]
        P = self.link_poses(qq, validate=False)[:, :, tools]  # (B, 2J, E, 4, 4)
        Pp, Pm = P[:, :J], P[:, J:]
        lin = (Pp[..., :3, 3] - Pm[..., :3, 3]) / (2 * eps)  # (B, J, E, 3)
        R0 = self.link_poses(q64[:, 0], validate=False)[:, tools, :3, :3]  # (B, E, 3, 3)
        W = ((Pp[..., :3, :3] - Pm[..., :3, :3]) / (2 * eps)) @ R0.transpose(-1, -2)[:, None]  # [w]x
        ang = 0.5 * torch.stack([W[..., 2, 1] - W[..., 1, 2], W[..., 0, 2] - W[..., 2, 0],
                                 W[..., 1, 0] - W[..., 0, 1]], dim=-1)  # (B, J, E, 3)
        jac = torch.cat([lin, ang], dim=-1).permute(0, 2, 3, 1).reshape(-1, 6 * len(tools), J)
        return jac.reshape(*batch, 6 * len(tools), J).to(q.dtype)

    def _points(self, q, name: str, validate: bool, normals: bool, contiguous: bool) -> Tensor:
        q_ext, c = self._prepare(q, name, validate)
        batch = q_ext.shape[:-1]
        qT = q_ext.reshape(-1, q_ext.shape[-1]).transpose(0, 1)  # (S, N)
        T = body_transform_list(c.tree, qT)  # B x (3, 4, N)
        N = qT.shape[1]
        W = c.W_nrm if normals else c.W_pts
        M = self.num_points
        if torch.is_grad_enabled() and qT.requires_grad:
            out = torch.cat([Wk @ T[b].reshape(12, N) for Wk, (b, _, _) in zip(W, c.blocks, strict=True)])
            out = out.view(M, 3, N).permute(2, 0, 1)
            out = out.contiguous() if contiguous else out
        elif contiguous:  # one (N, 3M) buffer; each body's GEMM writes its column block in place
            out = qT.new_empty(N, 3 * M)
            for Wk, (b, lo, hi) in zip(W, c.blocks, strict=True):
                torch.mm(T[b].reshape(12, N).T, Wk.T, out=out[:, lo:hi])
        else:  # batch-last (3M, N) buffer, returned as a strided (N, M, 3) view
            out = qT.new_empty(3 * M, N)
            for Wk, (b, lo, hi) in zip(W, c.blocks, strict=True):
                torch.mm(Wk, T[b].reshape(12, N), out=out[lo:hi])
            out = out.view(M, 3, N).permute(2, 0, 1)
        return out.reshape(*batch, M, 3)

    def surface_points(self, q, validate: bool = True, contiguous: bool = True) -> Tensor:
        """Surface points at joint values q.

        q: (..., J) joint values (rad, m). Returns (..., M, 3) positions in the base frame
        (metres), the same points in the same order for every q. Differentiable in q.
        contiguous=False returns the computed batch-last storage as a strided view (same
        values, no transposing copy: faster for large batches on CPU; use ``reshape``,
        not ``view``, on it).
        """
        return self._points(q, "q", validate, normals=False, contiguous=contiguous)

    def surface_normals(self, q, validate: bool = True, contiguous: bool = True) -> Tensor:
        """Unit outward normals (..., M, 3) of the surface points at q (..., J)."""
        return self._points(q, "q", validate, normals=True, contiguous=contiguous)

    def point_flow(self, q_traj, validate: bool = True, contiguous: bool = True) -> Tensor:
        """RobotFlow: surface points along a joint trajectory.

        q_traj: (..., T+1, J) joint values for steps 0..T (rad, m).
        Returns (..., T+1, M, 3), metres, base frame; step 0 equals
        surface_points(q_traj[..., 0, :]). ``contiguous`` as in surface_points.
        """
        t = _as_q(q_traj, "q_traj")
        if t.ndim < 2:
            raise KinematicsError(
                f"q_traj: expected shape (..., T+1, {self.num_joints}), got shape {tuple(t.shape)}"
            )
        return self._points(t, "q_traj", validate, normals=False, contiguous=contiguous)

    def link_points(self, link: str) -> Tensor:
        """(m, 3) float64 surface points of one link, in that link's frame (metres)."""
        return self.points_local[self.point_link == self.link_index(link)]

    # ------------------------------------------------------------------ gripper features
    def gripper_opening(self, q, validate: bool = True) -> Tensor:
        """(..., G) gripper openings in [0, 1] (0 at the lower limit) for q (..., J)."""
        q = self.check_q(q, "q") if validate else _as_q(q, "q")
        if not self.gripper_joint_names:
            return q.new_zeros(*q.shape[:-1], 0)
        idx = [self.joint_names.index(n) for n in self.gripper_joint_names]
        lo = self.lower[idx].to(q)
        span = (self.upper[idx] - self.lower[idx]).clamp_min(1e-12).to(q)
        return (q[..., idx] - lo) / span

    def point_gripper_opening(self, q, validate: bool = True) -> Tensor:
        """(..., M) per-point gripper feature: the opening of the gripper on the point's arm.

        A point belongs to the gripper whose finger link shares the deepest common
        ancestor with the point's link; points equally close to several grippers (a shared
        base) get their mean. Zero for a robot without grippers.
        """
        g = self.gripper_opening(q, validate)
        if g.shape[-1] == 0:
            return g.new_zeros(*g.shape[:-1], self.num_points)
        return g @ self._point_gripper_weight.to(g).T

    # ------------------------------------------------------------------ scene helpers
    def dense_surface(self, spacing: float = 0.005) -> tuple[Tensor, Tensor]:
        """Dense surface samples for masks and removal, about ``spacing`` metres apart.

        Returns points (P, 3) float64 in link frames and link index (P,) long; cached.
        """
        if not (isinstance(spacing, int | float) and math.isfinite(spacing) and spacing > 0):
            raise KinematicsError(f"spacing: expected a positive number of metres, got {spacing!r}")
        key = ("dense", float(spacing))
        if key not in self._cache:
            ordered = [self._surfaces[n] for n in self.link_names]
            area = sum(s.area for s in ordered)
            n = int(min(max(area / spacing**2, 1000), 2_000_000))
            pts, _, link = sample_surface(ordered, n, self.seed + 1)
            self._cache[key] = (torch.from_numpy(pts), torch.from_numpy(link))
        return self._cache[key]

    def dense_points(self, q, spacing: float = 0.005) -> Tensor:
        """Dense surface samples (P, 3) in the base frame at one configuration q (J,)."""
        q = self.check_q(q, "q")
        if q.ndim != 1:
            raise KinematicsError(f"q: expected shape ({self.num_joints},), got {tuple(q.shape)}")
        pts, link = self.dense_surface(spacing)
        T = self.link_poses(q.double())[link]  # (P, 4, 4)
        return (T[:, :3, :3] @ pts[:, :, None]).squeeze(-1) + T[:, :3, 3]

    def __repr__(self) -> str:
        return (
            f"RobotModel({self.name!r}, J={self.num_joints}, L={self.num_links}, "
            f"M={self.num_points}, urdf={str(self.urdf_path)!r})"
        )


def _gripper_weights(desc: RobotDescription, link_names: Sequence[str], anchors: Sequence[str]) -> Tensor:
    """(L, G) weights assigning each link to the gripper(s) with the deepest common ancestor."""
    parent = {j.child: j.parent for j in desc.joints}

    def chain(n: str) -> list[str]:
        out = [n]
        while out[-1] in parent:
            out.append(parent[out[-1]])
        return out[::-1]  # root first

    W = torch.zeros(len(link_names), len(anchors), dtype=torch.float64)
    if not anchors:
        return W
    anchor_chains = [chain(a) for a in anchors]
    for i, n in enumerate(link_names):
        c = chain(n)
        depth = []
        for ac in anchor_chains:
            k = 0
            while k < min(len(c), len(ac)) and c[k] == ac[k]:
                k += 1
            depth.append(k)
        best = max(depth)
        sel = [g for g, d in enumerate(depth) if d == best]
        W[i, sel] = 1.0 / len(sel)
    return W
