"""URDF -> plain data (parse step).

``parse_urdf`` reads a URDF with yourdfpy (XML only: meshes are not loaded here), checks
that it describes one tree (one root, every link the child of at most one joint, every
joint naming existing links, mimic joints pointing at movable joints) and returns frozen
dataclasses holding numpy arrays. Mesh file names are resolved to existing files here, so a
missing mesh is reported with the link that needs it before anything else happens.

Mesh resolution (``resolve_mesh_path``) accepts ``package://pkg/rel``, ``file://abs`` and
plain relative or absolute paths. ``package://`` is tried against, in order: the explicit
``package_dirs`` mapping, then every ancestor of the URDF's directory (as ``anc/pkg/rel`` and
as ``anc/rel``), which covers ROS-style layouts and URDFs like pybullet_data's that write
``package://meshes/...`` next to the URDF.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yourdfpy
from lxml import etree

from kinematics.errors import KinematicsError

__all__ = [
    "JOINT_TYPES",
    "JointSpec",
    "LinkSpec",
    "RobotDescription",
    "ShapeSpec",
    "parse_urdf",
    "resolve_mesh_path",
]

log = logging.getLogger(__name__)

JOINT_TYPES = ("revolute", "continuous", "prismatic", "fixed")


@dataclass(frozen=True, eq=False)
class ShapeSpec:
    """One visual or collision element of a link.

    kind: "mesh", "box", "cylinder" or "sphere".
    T_link_shape: (4, 4) float64, the element's origin in its link frame (metres).
    size: box (3,) edge lengths; cylinder (radius, length), the length along the local z
        axis; sphere (radius,); empty for meshes. Metres.
    mesh_path: absolute path of an existing mesh file (kind "mesh" only).
    scale: (3,) mesh scale factors (kind "mesh" only).
    """

    kind: str
    T_link_shape: np.ndarray
    size: tuple[float, ...] = ()
    mesh_path: Path | None = None
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True, eq=False)
class LinkSpec:
    """A link and the geometry chosen for it (visual, or collision when it has no visual)."""

    name: str
    shapes: tuple[ShapeSpec, ...]


@dataclass(frozen=True, eq=False)
class JointSpec:
    """A URDF joint.

    origin: (4, 4) float64, T_parent_child at zero joint value (metres).
    axis: (3,) float64 unit vector in the child frame.
    lower, upper: position limits (rad or m); continuous joints get (-pi, pi); fixed (0, 0).
    velocity: velocity limit (rad/s or m/s), inf when the URDF gives none.
    mimic: name of the joint this one follows (value = multiplier * q[mimic] + offset).
    """

    name: str
    type: str
    parent: str
    child: str
    origin: np.ndarray
    axis: np.ndarray
    lower: float = 0.0
    upper: float = 0.0
    velocity: float = math.inf
    mimic: str | None = None
    multiplier: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True, eq=False)
class RobotDescription:
    """A parsed, validated URDF: one tree of links and joints.

    links: every link, in the file's order. joints: every joint, in the file's order.
    root: the name of the one link that is no joint's child.
    """

    name: str
    path: Path
    links: tuple[LinkSpec, ...]
    joints: tuple[JointSpec, ...]
    root: str


def resolve_mesh_path(
    filename: str, urdf_dir: Path, package_dirs: Mapping[str, str | Path] | None = None
) -> tuple[Path | None, list[Path]]:
    """The existing file a URDF mesh ``filename`` refers to, and every candidate tried.

    filename: as written in the URDF (``package://``, ``file://``, relative or absolute).
    urdf_dir: the directory of the URDF file. package_dirs: optional {package: directory}.
    Returns (path or None, candidates) so that callers can report what was tried.
    """
    candidates: list[Path] = []
    if filename.startswith("package://"):
        rest = filename[len("package://"):]
        pkg, _, rel = rest.partition("/")
        if package_dirs and pkg in package_dirs:
            candidates.append(Path(package_dirs[pkg]) / rel)
        for anc in (urdf_dir, *urdf_dir.parents):
            candidates.append(anc / pkg / rel)
            candidates.append(anc / rel)
    elif filename.startswith("file://"):
        candidates.append(Path(filename[len("file://"):]))
    else:
        p = Path(filename)
        candidates.append(p if p.is_absolute() else urdf_dir / p)
    for c in candidates:
        if c.is_file():
            return c.resolve(), candidates
    return None, candidates


def _origin(value) -> np.ndarray:
    return np.eye(4) if value is None else np.asarray(value, dtype=np.float64)


def _shapes(link, which: str, urdf_path: Path, package_dirs) -> tuple[ShapeSpec, ...]:
    elements = link.visuals if which == "visual" else link.collisions
    out = []
    for el in elements:
        g = el.geometry
        T = _origin(el.origin)
        if g is None:
            continue
        if g.box is not None:
            out.append(ShapeSpec("box", T, tuple(float(s) for s in np.asarray(g.box.size).ravel())))
        elif g.cylinder is not None:
            out.append(ShapeSpec("cylinder", T, (float(g.cylinder.radius), float(g.cylinder.length))))
        elif g.sphere is not None:
            out.append(ShapeSpec("sphere", T, (float(g.sphere.radius),)))
        elif g.mesh is not None:
            path, tried = resolve_mesh_path(g.mesh.filename, urdf_path.parent, package_dirs)
            if path is None:
                raise KinematicsError(
                    f"{urdf_path}: link {link.name!r}: mesh file {g.mesh.filename!r} not found "
                    f"(tried {', '.join(str(t) for t in tried[:4])}{' ...' if len(tried) > 4 else ''}); "
                    "pass package_dirs={package: dir} for package:// paths"
                )
            scale = g.mesh.scale
            if scale is None:
                scale3 = (1.0, 1.0, 1.0)
            else:
                s = np.asarray(scale, dtype=np.float64).ravel()
                scale3 = tuple(float(v) for v in (np.repeat(s, 3) if s.size == 1 else s))
            out.append(ShapeSpec("mesh", T, (), path, scale3))
    return tuple(out)


def _joint(j, urdf_path: Path) -> JointSpec:
    where = f"{urdf_path}: joint {j.name!r}"
    if j.type not in JOINT_TYPES:
        raise KinematicsError(
            f"{where}: joint type {j.type!r} is not supported (expected one of {JOINT_TYPES})"
        )
    axis = np.array([1.0, 0.0, 0.0]) if j.axis is None else np.asarray(j.axis, dtype=np.float64)
    norm = float(np.linalg.norm(axis))
    if j.type != "fixed" and (not np.isfinite(norm) or norm < 1e-12):
        raise KinematicsError(f"{where}: axis {axis.tolist()} has zero length")
    axis = axis / norm if norm > 0 else axis
    origin = _origin(j.origin)
    if not np.isfinite(origin).all():
        raise KinematicsError(f"{where}: origin is not finite")
    lower = upper = 0.0
    velocity = math.inf
    if j.limit is not None and j.limit.velocity is not None:
        velocity = float(j.limit.velocity)
    if j.type == "continuous":
        lower, upper = -math.pi, math.pi
    elif j.type in ("revolute", "prismatic"):
        if j.limit is None or j.limit.lower is None or j.limit.upper is None:
            if j.mimic is None:
                raise KinematicsError(f"{where}: a {j.type} joint needs <limit lower=... upper=...>")
        else:
            lower, upper = float(j.limit.lower), float(j.limit.upper)
            if not lower <= upper:
                raise KinematicsError(f"{where}: limit lower={lower} > upper={upper}")
    mimic, mult, off = None, 1.0, 0.0
    if j.mimic is not None:
        mimic = j.mimic.joint
        mult = 1.0 if j.mimic.multiplier is None else float(j.mimic.multiplier)
        off = 0.0 if j.mimic.offset is None else float(j.mimic.offset)
    return JointSpec(
        j.name, j.type, j.parent, j.child, origin, axis, lower, upper, velocity, mimic, mult, off
    )


def _check_tree(path: Path, links: list[str], joints: list[JointSpec]) -> str:
    """Validate the link/joint graph and return the root link's name."""
    names = set(links)
    if len(names) != len(links):
        dup = sorted({n for n in links if links.count(n) > 1})
        raise KinematicsError(f"{path}: duplicate link names {dup}")
    jnames = [j.name for j in joints]
    if len(set(jnames)) != len(jnames):
        dup = sorted({n for n in jnames if jnames.count(n) > 1})
        raise KinematicsError(f"{path}: duplicate joint names {dup}")
    parent_joint: dict[str, str] = {}
    for j in joints:
        for role, link in (("parent", j.parent), ("child", j.child)):
            if link not in names:
                raise KinematicsError(f"{path}: joint {j.name!r} names unknown {role} link {link!r}")
        if j.parent == j.child:
            raise KinematicsError(f"{path}: joint {j.name!r} connects link {j.parent!r} to itself (a loop)")
        if j.child in parent_joint:
            raise KinematicsError(
                f"{path}: link {j.child!r} is the child of two joints ({parent_joint[j.child]!r} "
                f"and {j.name!r}): the URDF has a closed loop; only trees are supported"
            )
        parent_joint[j.child] = j.name
    roots = [n for n in links if n not in parent_joint]
    if len(roots) > 1:
        raise KinematicsError(
            f"{path}: the URDF has {len(roots)} root links {roots}; expected exactly one "
            "(every other link must be the child of a joint)"
        )
    if not roots:
        raise KinematicsError(f"{path}: the URDF has no root link (its joints form a loop)")
    # Every link must be reachable from the root (a cycle detached from the root is a loop).
    children: dict[str, list[str]] = {}
    for j in joints:
        children.setdefault(j.parent, []).append(j.child)
    seen, stack = {roots[0]}, [roots[0]]
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in seen:
                seen.add(c)
                stack.append(c)
    unreachable = [n for n in links if n not in seen]
    if unreachable:
        raise KinematicsError(
            f"{path}: links {unreachable} are not connected to the root {roots[0]!r} "
            "(their joints form a loop)"
        )
    by_name = {j.name: j for j in joints}
    for j in joints:
        if j.mimic is None:
            continue
        if j.type == "fixed":
            raise KinematicsError(f"{path}: fixed joint {j.name!r} cannot mimic another joint")
        target = by_name.get(j.mimic)
        if target is None:
            raise KinematicsError(f"{path}: joint {j.name!r} mimics unknown joint {j.mimic!r}")
        if target.type == "fixed":
            raise KinematicsError(f"{path}: joint {j.name!r} mimics fixed joint {j.mimic!r}")
    return roots[0]


def parse_urdf(
    path: str | Path,
    geometry: str = "visual",
    package_dirs: Mapping[str, str | Path] | None = None,
) -> RobotDescription:
    """Read and validate a URDF file.

    path: the URDF file. geometry: "visual" or "collision": which elements give each link's
    surface (a link without that kind falls back to the other). package_dirs: optional
    {package name: directory} for ``package://`` mesh paths.
    Raises KinematicsError naming the file (and the link or joint) on any problem.
    """
    if geometry not in ("visual", "collision"):
        raise KinematicsError(f"geometry: expected 'visual' or 'collision', got {geometry!r}")
    path = Path(path)
    if not path.is_file():
        raise KinematicsError(f"URDF file {str(path)!r} not found")
    try:
        etree.parse(str(path))  # strict: yourdfpy would silently recover from broken XML
    except etree.XMLSyntaxError as e:
        raise KinematicsError(f"{path}: malformed XML: {e}") from None
    try:
        urdf = yourdfpy.URDF.load(
            str(path), build_scene_graph=False, load_meshes=False, load_collision_meshes=False
        )
    except etree.XMLSyntaxError as e:
        raise KinematicsError(f"{path}: malformed XML: {e}") from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
        raise KinematicsError(f"{path}: not a valid URDF: {type(e).__name__}: {e}") from None
    robot = urdf.robot
    if robot is None or not robot.links:
        raise KinematicsError(f"{path}: no <robot> with <link> elements found")
    joints = [_joint(j, path) for j in robot.joints]
    root = _check_tree(path, [lk.name for lk in robot.links], joints)
    other = "collision" if geometry == "visual" else "visual"
    links = []
    for lk in robot.links:
        shapes = _shapes(lk, geometry, path, package_dirs)
        if not shapes:
            shapes = _shapes(lk, other, path, package_dirs)
        links.append(LinkSpec(lk.name, shapes))
    return RobotDescription(robot.name or path.stem, path.resolve(), tuple(links), tuple(joints), root)
