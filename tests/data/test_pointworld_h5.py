"""PointWorld H5 reader on files written here in the released layout."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pytest
from data_helpers import run_cli
from PIL import Image

from pointwm.data.archive import read_manifest
from pointwm.data.clip import ClipError
from pointwm.data.dataset import ArchiveDataset
from pointwm.data.pointworld_h5 import read_pointworld_h5

T1 = 11  # 1 context + 10 steps


def _jpeg(rgb: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=95)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def _write_camera(g, rng, n: int, T_world_cam: np.ndarray):
    pos = rng.uniform(-0.3, 0.6, (1, n, 3)) + np.cumsum(rng.normal(0, 0.01, (T1, n, 3)), axis=0)
    g.create_dataset("scene_flows", data=pos.astype(np.float16))
    g.create_dataset("scene_colors", data=rng.integers(0, 256, (n, 3), dtype=np.uint8))
    nrm = rng.normal(size=(n, 3))
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    g.create_dataset("scene_normals", data=np.round(nrm * 127).astype(np.int8))
    g.create_dataset("scene_visibility", data=rng.uniform(size=(T1, n)) > 0.2)
    g.create_dataset("scene_depth_valid_mask", data=rng.uniform(size=n) > 0.1)
    rgb = rng.integers(0, 256, (180, 320, 3), dtype=np.uint8)
    d = g.create_dataset("initial_rgb", (1,), dtype=h5py.special_dtype(vlen=np.dtype("uint8")))
    d[0] = _jpeg(rgb)
    g.create_dataset("initial_depth", data=rng.integers(300, 2000, (180, 320)).astype(np.uint16))
    g.create_dataset("intrinsic", data=np.array([[160.0, 0, 159.5], [0, 160.0, 89.5], [0, 0, 1]]))
    g.create_dataset("extrinsic", data=np.linalg.inv(T_world_cam))  # world -> camera
    return pos.astype(np.float16).astype(np.float32)


def write_episode(path, clips: int = 2, seed: int = 0):
    """An episode file in PointWorld's layout; returns the expected positions per clip."""
    rng = np.random.default_rng(seed)
    expected = []
    T_wc = np.eye(4)
    T_wc[:3, 3] = (1.2, 0.0, 0.7)
    with h5py.File(path, "w") as f:
        for c in range(clips):
            g = f.create_group(f"clip_{c:04d}")
            a = _write_camera(g.create_group("camera_11111_ext"), rng, 30, T_wc)
            b = _write_camera(g.create_group("camera_22222_ext"), rng, 20, T_wc)
            g.create_dataset("joint_positions", data=np.tile([0, -0.7, 0, -2.3, 0, 1.6, 0.8], (T1, 1)))
            g.create_dataset("gripper_positions", data=np.linspace(0, 1, T1)[:, None])
            expected.append(np.concatenate([a, b], axis=1))
    return expected


def test_reads_pointworld_layout(tmp_path):
    expected = write_episode(tmp_path / "ep1.h5")
    clips = list(read_pointworld_h5(tmp_path / "ep1.h5"))
    assert [c.key for c in clips] == ["ep1-clip_0000", "ep1-clip_0001"]
    c = clips[0]
    assert c.num_steps == 10 and c.num_points == 50 and len(c.cameras) == 2
    np.testing.assert_array_equal(c.points, expected[0])
    assert (c.point_camera[:30] == 0).all() and (c.point_camera[30:] == 1).all()
    assert c.visible.shape == (11, 50) and c.valid.dtype == bool
    np.testing.assert_allclose(np.linalg.norm(c.normals, axis=1), 1, atol=0.02)
    cam = c.cameras[0]
    assert cam.rgb.shape == (180, 320, 3) and cam.depth.dtype == np.float32 and cam.depth.max() < 2.01
    np.testing.assert_allclose(cam.T_world_cam[:3, 3], (1.2, 0.0, 0.7), atol=1e-9)
    # 7 arm joints + the finger: gripper_positions is closure, 0 = open (0.04 m per finger).
    assert c.q.shape == (11, 8)
    np.testing.assert_allclose(c.q[[0, -1], 7], [0.04, 0.0], atol=1e-6)
    np.testing.assert_allclose(c.gripper[[0, -1]], [1.0, 0.0])


def test_convert_to_archive_keeps_jpeg(tmp_path):
    write_episode(tmp_path / "ep1.h5")
    write_episode(tmp_path / "ep2.h5", clips=1, seed=1)
    assert run_cli(["data", "convert-h5", str(tmp_path), "--out", str(tmp_path / "arch")]) == 0
    assert read_manifest(tmp_path / "arch").num_clips == 3
    assert run_cli(["data", "check", str(tmp_path / "arch")]) == 0
    src = next(read_pointworld_h5(tmp_path / "ep1.h5"))
    got = next(iter(ArchiveDataset(tmp_path / "arch")))
    assert got.cameras[0].jpeg == src.cameras[0].jpeg
    np.testing.assert_array_equal(got.points, src.points)


def test_missing_dataset_and_bad_shapes(tmp_path):
    write_episode(tmp_path / "ep.h5", clips=1)
    with h5py.File(tmp_path / "ep.h5", "a") as f:
        del f["clip_0000/camera_11111_ext/scene_normals"]
    with pytest.raises(ClipError, match=r"ep.h5:clip_0000/camera_11111_ext: missing dataset 'scene_normals'"):
        list(read_pointworld_h5(tmp_path / "ep.h5"))
    write_episode(tmp_path / "ep2.h5", clips=1)
    with h5py.File(tmp_path / "ep2.h5", "a") as f:
        del f["clip_0000/joint_positions"]
        f["clip_0000/joint_positions"] = np.zeros((5, 7))
    with pytest.raises(ClipError, match="do not have T\\+1 = 11 rows"):
        list(read_pointworld_h5(tmp_path / "ep2.h5"))
    with pytest.raises(ClipError, match="unknown robot"):
        list(read_pointworld_h5(tmp_path / "ep2.h5", robot="no_such_robot"))
