"""Static outputs: PNG, GIF (one frame per step 0..T) and PLY with flow attributes (Open3D)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from viz_helpers import make_scene, run_cli

from pointwm.ply import read_ply
from pointwm.viz import render_flow_png, render_rollout_gif, write_flow_ply


def test_flow_png(tmp_path, scene):
    path = render_flow_png(scene, tmp_path / "out" / "flow.png", dpi=60)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (13 * 60, int(5.8 * 60))
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
        assert len(np.unique(pixels, axis=0)) > 50  # drawn, not blank
    with pytest.raises(ValueError, match=r"step must be in \[0, 4\]"):
        render_flow_png(scene, tmp_path / "x.png", step=9)


def test_rollout_gif_has_t_plus_one_frames(tmp_path, scene):
    path = render_rollout_gif(scene, tmp_path / "roll.gif", size_px=(320, 160), fps=4)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == scene.num_steps + 1 and im.size == (320, 160)
        assert im.info["duration"] == 250
        im.seek(0)
        first = np.asarray(im.convert("RGB"), dtype=np.int16)
        im.seek(im.n_frames - 1)
        last = np.asarray(im.convert("RGB"), dtype=np.int16)
    assert np.abs(first - last).sum() > 0  # the points moved


def test_ply_round_trips_through_open3d(tmp_path, scene):
    o3d = pytest.importorskip("open3d", reason="open3d is not installed")
    path = write_flow_ply(scene, tmp_path / "flow.ply")
    pc = o3d.t.io.read_point_cloud(str(path))
    np.testing.assert_allclose(pc.point["positions"].numpy(), scene.xyz, atol=1e-6)
    last = scene.pred_flow[-1]
    for i, axis in enumerate("xyz"):
        np.testing.assert_allclose(pc.point[f"flow_{axis}"].numpy()[:, 0], last[:, i], atol=1e-6)
        for t in range(1, scene.num_steps + 1):
            np.testing.assert_allclose(pc.point[f"flow_t{t}_{axis}"].numpy()[:, 0], scene.pred_flow[t - 1, :, i])
    np.testing.assert_allclose(pc.point["flow_mag"].numpy()[:, 0], np.linalg.norm(last, axis=1), rtol=1e-6)
    # The project's own reader sees the same attributes.
    cloud, attrs = read_ply(path)
    assert len(cloud) == scene.num_points and len(attrs) == 4 + 3 * scene.num_steps


def test_ply_ground_truth_and_no_flow(tmp_path):
    scene = make_scene(N=30, T=2)
    _, attrs = read_ply(write_flow_ply(scene, tmp_path / "gt.ply", which="gt", all_steps=False))
    assert set(attrs) == {"flow_x", "flow_y", "flow_z", "flow_mag"}
    np.testing.assert_allclose(attrs["flow_x"], scene.gt_flow[-1, :, 0])


def test_cli_static_outputs(tmp_path, bundle, capsys):
    out = tmp_path / "out"
    rc = run_cli(["viz", str(bundle), "--static-only", "--png", str(out / "a.png"),
                  "--gif", str(out / "a.gif"), "--ply", str(out / "a.ply")])
    assert rc == 0
    assert all((out / f"a.{ext}").stat().st_size > 0 for ext in ("png", "gif", "ply"))
    assert "T = 4" in capsys.readouterr().out
