"""Reader for PointWorld's released H5 layout (DROID-style clips) -> ``Clip``.

Layout read (one file per episode; names from PointWorld's ``shared/data_contract.py`` where
it gives them, the rest are this reader's documented assumptions, see docs/archive.md)::

    episode.h5
      <clip>/                         any group holding camera_* subgroups is a clip
        camera_<name>/                one per camera
          scene_flows        (T+1, N, 3) float16/32  world positions of the camera's points
                                      at steps 0..T (row 0 = t0) [assumed: positions, not
                                      displacements, as PointWorld's model contract says]
          scene_colors       (N, 3) uint8 (float in [0, 1] also accepted)
          scene_normals      (N, 3) int8 quantised x127 (float also accepted)
          scene_visibility   (T+1, N) bool (an (N,) mask is broadcast over steps)
          scene_depth_valid_mask (N,) bool
          initial_rgb        (1,) vlen uint8: JPEG bytes of the t0 colour image
          initial_depth      (180, 320) uint16 millimetres
          intrinsic          (3, 3) pinhole matrix
          extrinsic          (4, 4) world -> camera (T_cam_world) [assumed; attribute
                                      ``convention = "T_world_cam"`` on it flips this]
        joint_positions      (T+1, 7) arm joints, rad
        gripper_positions    (T+1,) or (T+1, 1) gripper closure in [0, 1] (0 = open) [assumed]
        gripper_open         (T+1,) optional, 1 = open; preferred over gripper_positions
      attribute ``dt`` on the clip group: seconds per step (default 0.1) [assumed]

The points of all cameras are concatenated (``Clip.point_camera`` says which camera).
Joint vectors map onto the robot's action joints: the 7 arm joints in order, then each
gripper joint set to ``lower + opening * (upper - lower)``.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, UnidentifiedImageError

from pointwm.data.clip import CameraView, Clip, ClipError
from pointwm.data.sample import robot_by_name

__all__ = ["find_h5_files", "read_pointworld_h5"]

log = logging.getLogger(__name__)
SOURCE = "pointworld-h5"


def find_h5_files(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """H5 files among ``inputs`` (files, or directories searched recursively), sorted."""
    out: list[Path] = []
    for p in map(Path, inputs):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix in (".h5", ".hdf5"))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"H5 input {str(p)!r} does not exist")
    return out


def _get(group, name: str, where: str) -> np.ndarray:
    if name not in group:
        raise ClipError(f"{where}: missing dataset {name!r}")
    return group[name][()]


def _decode_jpeg(data: bytes, where: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as e:
        raise ClipError(f"{where}: initial_rgb is not a readable JPEG ({e})") from None


def _camera(g, name: str, where: str):
    w = f"{where}/{name}"
    pos = np.asarray(_get(g, "scene_flows", w), dtype=np.float32)
    if pos.ndim != 3 or pos.shape[2] != 3 or pos.shape[0] < 2:
        raise ClipError(f"{w}: scene_flows must be (T+1, N, 3) positions, got {pos.shape}")
    T1, N = pos.shape[:2]
    colors = np.asarray(_get(g, "scene_colors", w))
    if colors.dtype != np.uint8:
        colors = np.clip(np.round(colors.astype(np.float32) * 255), 0, 255).astype(np.uint8)
    normals = np.asarray(_get(g, "scene_normals", w))
    if normals.dtype == np.int8:
        normals = normals.astype(np.float32) / 127.0
    normals = normals.astype(np.float32)
    vis = np.asarray(_get(g, "scene_visibility", w)).astype(bool)
    if vis.shape == (N,):
        vis = np.broadcast_to(vis, (T1, N)).copy()
    valid = np.asarray(_get(g, "scene_depth_valid_mask", w)).astype(bool).reshape(-1)
    for field, arr, shape in (("scene_colors", colors, (N, 3)), ("scene_normals", normals, (N, 3)),
                              ("scene_visibility", vis, (T1, N)), ("scene_depth_valid_mask", valid, (N,))):
        if arr.shape != shape:
            raise ClipError(f"{w}: {field} has shape {arr.shape}, expected {shape} (scene_flows is {pos.shape})")
    if "initial_rgb" not in g:
        raise ClipError(f"{w}: missing dataset 'initial_rgb'")
    raw = g["initial_rgb"][0] if g["initial_rgb"].shape == (1,) else g["initial_rgb"][()]
    jpeg = np.asarray(raw, dtype=np.uint8).tobytes()
    rgb = _decode_jpeg(jpeg, w)
    depth_mm = np.asarray(_get(g, "initial_depth", w))
    if depth_mm.ndim != 2:
        raise ClipError(f"{w}: initial_depth must be (H, W) uint16 mm, got {depth_mm.shape}")
    if depth_mm.shape != rgb.shape[:2]:
        raise ClipError(f"{w}: initial_depth {depth_mm.shape} and initial_rgb {rgb.shape[:2]} differ in size")
    K = np.asarray(_get(g, "intrinsic", w), dtype=np.float64)
    E = np.asarray(_get(g, "extrinsic", w), dtype=np.float64)
    if K.shape != (3, 3) or E.shape != (4, 4):
        raise ClipError(f"{w}: intrinsic must be (3, 3) and extrinsic (4, 4), got {K.shape}, {E.shape}")
    convention = g["extrinsic"].attrs.get("convention", "T_cam_world")
    if isinstance(convention, bytes):
        convention = convention.decode()
    T_world_cam = E if convention == "T_world_cam" else np.linalg.inv(E)
    view = CameraView(name, rgb, depth_mm.astype(np.float32) / 1000.0, K, T_world_cam, jpeg=jpeg)
    return view, pos, colors, normals, vis, valid


def _robot_q(robot, joints: np.ndarray, opening: np.ndarray, where: str) -> np.ndarray:
    grip = list(robot.gripper_joint_names)
    arm = [n for n in robot.joint_names if n not in grip]
    if joints.ndim != 2 or joints.shape[1] != len(arm):
        raise ClipError(
            f"{where}: joint_positions has shape {joints.shape}, robot {robot.name!r} has "
            f"{len(arm)} arm joints ({arm})"
        )
    q = np.zeros((joints.shape[0], robot.num_joints), dtype=np.float64)
    lo, hi = robot.lower.numpy(), robot.upper.numpy()
    for k, n in enumerate(robot.joint_names):
        if n in grip:
            q[:, k] = lo[k] + opening * (hi[k] - lo[k])
        else:
            q[:, k] = joints[:, arm.index(n)]
    return q.astype(np.float32)


def read_pointworld_h5(path: str | os.PathLike, robot: str = "panda") -> Iterator[Clip]:
    """The clips of one PointWorld H5 episode file, in group-name order.

    robot: the robot name the clips are recorded with (loaded with ``kinematics`` to map
    the 7 arm joints + gripper onto its action joints). Raises ``ClipError`` naming the
    file and group for missing datasets or shapes that disagree.
    """
    path = Path(path)
    try:
        model = robot_by_name(robot, 500)
    except ClipError as e:
        raise ClipError(f"{path}: robot {robot!r}: {e}") from None
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ClipError(f"H5 file {str(path)!r}: cannot be opened ({e})") from None
    with f:
        for clip_name in sorted(f.keys()):
            g = f[clip_name]
            if not isinstance(g, h5py.Group):
                continue
            cams = sorted(k for k in g.keys() if k.startswith("camera_") and isinstance(g[k], h5py.Group))
            if not cams:
                continue
            where = f"{path.name}:{clip_name}"
            parts = [_camera(g[c], c, where) for c in cams]
            steps = {p[1].shape[0] for p in parts}
            if len(steps) != 1:
                raise ClipError(f"{where}: cameras disagree on the number of steps: {sorted(steps)}")
            T1 = steps.pop()
            joints = np.asarray(_get(g, "joint_positions", where), dtype=np.float64)
            if "gripper_open" in g:
                opening = np.asarray(g["gripper_open"][()], dtype=np.float64).reshape(-1)
            else:
                opening = 1.0 - np.asarray(_get(g, "gripper_positions", where), dtype=np.float64).reshape(-1)
            if joints.shape[0] != T1 or opening.shape[0] != T1:
                raise ClipError(
                    f"{where}: joint_positions {joints.shape} / gripper {opening.shape} do not have "
                    f"T+1 = {T1} rows like scene_flows"
                )
            opening = np.clip(opening, 0.0, 1.0)
            key = f"{path.stem}-{clip_name}".replace(".", "_").replace("/", "_")
            yield Clip(
                key=key,
                robot=robot,
                joint_names=tuple(model.joint_names),
                q=_robot_q(model, joints, opening, where),
                gripper=opening.astype(np.float32),
                points=np.concatenate([p[1] for p in parts], axis=1),
                colors=np.concatenate([p[2] for p in parts]),
                normals=np.concatenate([p[3] for p in parts]),
                visible=np.concatenate([p[4] for p in parts], axis=1),
                valid=np.concatenate([p[5] for p in parts]),
                point_camera=np.concatenate([np.full(p[1].shape[1], i, np.int16) for i, p in enumerate(parts)]),
                cameras=tuple(p[0] for p in parts),
                dt=float(g.attrs.get("dt", 0.1)),
                provenance={"source": SOURCE, "file": path.name, "group": clip_name},
            ).check()
