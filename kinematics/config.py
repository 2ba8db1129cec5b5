"""Robot YAML files: adding a robot is a URDF plus one YAML, no code.

A robot YAML (``configs/robots/<name>.yaml``)::

    name: panda
    urdf: assets/robots/panda/panda.urdf  # relative to the YAML's folder or the shipped files' root
    num_points: 500                       # M surface points (default 500)
    seed: 0                               # sampling seed (default 0)
    geometry: visual                      # or collision
    joints: [panda_joint1, ...]           # action joints in order (default: all actuated)
    default_q: {panda_joint1: 0.0, ...}   # rad / m; unlisted joints: 0 clamped to limits
    velocity_limits: {panda_joint1: 2.175}  # rad/s, m/s; overrides the URDF
    gripper_joints: [panda_finger_joint1]
    tool_links: [panda_tcp]               # end-effector links, one per arm (default: *tcp)
    dense_links: [panda_hand, ...]        # links that get dense_fraction of the points
    dense_fraction: 0.5                   # (default 0: every link by area)
    package_dirs: {my_description: ../my_description}  # for package:// meshes

``load_robot("panda")`` finds ``configs/robots/panda.yaml``; it also takes a YAML or URDF
path. Search folders: ``$POINTWM_ROBOTS`` (os.pathsep separated), ``./configs/robots``,
then the shipped ``configs/robots`` (the checkout's, or the installed copy: ``pointwm.paths``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kinematics.errors import KinematicsError
from kinematics.model import RobotModel
from pointwm.paths import CONFIGS, DATA_ROOT

__all__ = ["RobotConfig", "find_robot_config", "list_robots", "load_robot", "load_robot_config"]

_KEYS = (
    "name", "urdf", "num_points", "seed", "geometry", "joints", "default_q",
    "velocity_limits", "gripper_joints", "tool_links", "package_dirs", "dense_links", "dense_fraction",
)


@dataclass(frozen=True)
class RobotConfig:
    """One robot YAML, validated. ``urdf`` is an absolute path to an existing file."""

    name: str
    urdf: Path
    source: Path | None = None
    num_points: int = 500
    seed: int = 0
    geometry: str = "visual"
    joints: tuple[str, ...] | None = None
    default_q: Mapping[str, float] = field(default_factory=dict)
    velocity_limits: Mapping[str, float] = field(default_factory=dict)
    gripper_joints: tuple[str, ...] | None = None
    tool_links: tuple[str, ...] | None = None
    package_dirs: Mapping[str, Path] = field(default_factory=dict)
    dense_links: tuple[str, ...] = ()
    dense_fraction: float = 0.0

    def build(self, **overrides):
        """The RobotModel this config describes; keyword arguments override its fields."""
        kw = dict(
            num_points=self.num_points, seed=self.seed, joints=self.joints,
            default_q=dict(self.default_q), velocity_limits=dict(self.velocity_limits),
            gripper_joints=self.gripper_joints, tool_links=self.tool_links, geometry=self.geometry,
            package_dirs=dict(self.package_dirs), name=self.name,
            dense_links=self.dense_links, dense_fraction=self.dense_fraction,
        )
        kw.update(overrides)
        try:
            return RobotModel.from_urdf(self.urdf, **kw)
        except KinematicsError as e:
            if self.source is None:
                raise
            raise KinematicsError(f"robot config {str(self.source)!r}: {e}") from None


def _resolve(rel: str, base: Path) -> Path | None:
    p = Path(os.path.expanduser(rel))
    if p.is_absolute():
        return p if p.exists() else None
    for root in (base, DATA_ROOT, Path.cwd()):
        if (root / p).exists():
            return (root / p).resolve()
    return None


def load_robot_config(path: str | Path) -> RobotConfig:
    """Read and check a robot YAML; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise KinematicsError(f"robot config {str(path)!r} not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise KinematicsError(f"robot config {str(path)!r}: malformed YAML: {e}") from None
    where = f"robot config {str(path)!r}"
    if not isinstance(data, dict):
        raise KinematicsError(f"{where}: expected a mapping with keys {_KEYS}")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise KinematicsError(f"{where}: unknown keys {unknown} (expected some of {_KEYS})")
    if "urdf" not in data:
        raise KinematicsError(f"{where}: missing key 'urdf'")
    urdf = _resolve(str(data["urdf"]), path.parent)
    if urdf is None:
        raise KinematicsError(
            f"{where}: urdf {data['urdf']!r} not found (relative to {path.parent} or {DATA_ROOT})"
        )

    def names(key):
        v = data.get(key)
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise KinematicsError(f"{where}: {key} must be a list of names")
        return tuple(v)

    def mapping(key, conv):
        v = data.get(key) or {}
        if not isinstance(v, dict):
            raise KinematicsError(f"{where}: {key} must be a mapping of joint name to value")
        try:
            return {str(k): conv(x) for k, x in v.items()}
        except (TypeError, ValueError):
            raise KinematicsError(f"{where}: {key} has a value that is not a number") from None

    pkg = {k: (_resolve(str(v), path.parent) or Path(v)) for k, v in (data.get("package_dirs") or {}).items()}
    try:
        num_points = int(data.get("num_points", 500))
        seed = int(data.get("seed", 0))
    except (TypeError, ValueError):
        raise KinematicsError(f"{where}: num_points and seed must be integers") from None
    try:
        dense_fraction = float(data.get("dense_fraction", 0.0))
    except (TypeError, ValueError):
        raise KinematicsError(f"{where}: dense_fraction must be a number in [0, 1)") from None
    return RobotConfig(
        name=str(data.get("name", path.stem)), urdf=urdf, source=path.resolve(),
        num_points=num_points, seed=seed, geometry=str(data.get("geometry", "visual")),
        joints=names("joints"), default_q=mapping("default_q", float),
        velocity_limits=mapping("velocity_limits", float), gripper_joints=names("gripper_joints"),
        tool_links=names("tool_links"), package_dirs=pkg,
        dense_links=names("dense_links") or (), dense_fraction=dense_fraction,
    )


def _search_dirs() -> list[Path]:
    dirs = [Path(d) for d in os.environ.get("POINTWM_ROBOTS", "").split(os.pathsep) if d]
    return dirs + [Path.cwd() / "configs" / "robots", CONFIGS / "robots"]


def list_robots() -> list[str]:
    """Names of the robot YAMLs found in the search folders."""
    out = []
    for d in _search_dirs():
        if d.is_dir():
            out += [p.stem for p in sorted(d.glob("*.yaml")) if p.stem not in out]
    return out


def find_robot_config(name: str) -> Path:
    """The YAML for robot ``name`` (a name in the search folders, or a YAML path)."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise KinematicsError(f"robot config {name!r} not found")
        return p
    for d in _search_dirs():
        for ext in (".yaml", ".yml"):
            if (d / f"{name}{ext}").is_file():
                return d / f"{name}{ext}"
    raise KinematicsError(f"unknown robot {name!r} (known: {list_robots()}; or pass a .yaml or .urdf path)")


def load_robot(name_or_path: str | Path, **overrides):
    """A RobotModel from a robot name, a robot YAML or a URDF path.

    overrides: keyword arguments of RobotModel.from_urdf (num_points, seed, ...).
    """
    s = str(name_or_path)
    if s.endswith(".urdf") or s.endswith(".xml"):
        return RobotModel.from_urdf(s, **overrides)
    return load_robot_config(find_robot_config(s)).build(**overrides)
