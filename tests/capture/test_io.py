import json

import numpy as np
import pytest
import torch

from capture import CaptureError, Intrinsics, RGBDFrame, load_capture, save_capture


def test_round_trip_single_camera(tmp_path, table_frames):
    frame = table_frames[0][0]
    path = save_capture(tmp_path / "cap", frame)
    assert sorted(p.name for p in path.iterdir()) == ["camera.json", "color.png", "depth.png"]
    (back,) = load_capture(path)
    assert back.intrinsics == frame.intrinsics and back.name == frame.name
    torch.testing.assert_close(back.color, frame.color, atol=1 / 255 / 2 + 1e-7, rtol=0)
    torch.testing.assert_close(back.depth, frame.depth, atol=0.5e-3 + 1e-7, rtol=0)  # 1 mm steps
    torch.testing.assert_close(back.T_world_cam, frame.T_world_cam)


def test_round_trip_several_cameras_with_meta(tmp_path, table_frames):
    frames = [f for f, _, _ in table_frames]
    frames[1] = RGBDFrame(frames[1].color, frames[1].depth, frames[1].intrinsics, frames[1].T_world_cam,
                          name="side", timestamp=12.5, meta={"serial": "123", "joints": [0.1, 0.2]})
    path = save_capture(tmp_path / "cap", frames)
    assert json.loads((path / "capture.json").read_text())["cameras"] == ["front", "side"]
    back = load_capture(path)
    assert [f.name for f in back] == ["front", "side"]
    assert back[1].timestamp == 12.5 and back[1].meta == {"serial": "123", "joints": [0.1, 0.2]}


def test_depth_png_is_uint16_millimetres(tmp_path):
    from PIL import Image

    intr = Intrinsics(10.0, 10.0, 1.5, 1.0, 4, 3)
    depth = np.array([[0.0, 1.0, 1.2344, np.nan], [2.0, 0.5, 0.001, 0.0], [65.535, 3.0, 0.0, 0.0]], np.float32)
    save_capture(tmp_path / "c", RGBDFrame(np.zeros((3, 4, 3), np.uint8), depth, intr))
    raw = np.asarray(Image.open(tmp_path / "c" / "depth.png"))
    assert raw.dtype == np.uint16
    assert raw.tolist() == [[0, 1000, 1234, 0], [2000, 500, 1, 0], [65535, 3000, 0, 0]]


def test_save_is_atomic_and_refuses_to_overwrite(tmp_path, table_frames):
    frame = table_frames[0][0]
    save_capture(tmp_path / "cap", frame)
    with pytest.raises(CaptureError, match="already exists"):
        save_capture(tmp_path / "cap", frame)
    too_far = RGBDFrame(frame.color, torch.full_like(frame.depth, 70.0), frame.intrinsics)
    with pytest.raises(CaptureError, match="does not fit in uint16"):
        save_capture(tmp_path / "cap", too_far, overwrite=True)
    # the failed save left the earlier capture intact and no temporary directory behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cap"]
    assert len(load_capture(tmp_path / "cap")) == 1


@pytest.fixture()
def saved(tmp_path, table_frames):
    return save_capture(tmp_path / "cap", table_frames[0][0])


def _edit_json(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def test_missing_camera_json(saved):
    (saved / "camera.json").unlink()
    with pytest.raises(CaptureError, match="no camera.json or capture.json inside"):
        load_capture(saved)


def test_malformed_camera_json(saved):
    (saved / "camera.json").write_text("{not json")
    with pytest.raises(CaptureError, match=r"camera.json: not valid JSON"):
        load_capture(saved)


def test_camera_json_missing_intrinsics_keys(saved):
    _edit_json(saved / "camera.json", lambda d: d["intrinsics"].pop("fy"))
    with pytest.raises(CaptureError, match=r"intrinsics: missing keys \['fy'\]"):
        load_capture(saved)


def test_intrinsics_that_do_not_match_the_image(saved):
    _edit_json(saved / "camera.json", lambda d: d["intrinsics"].update(width=640))
    with pytest.raises(CaptureError, match=r"color.png: image is 160x120 but .* intrinsics are for 640x120"):
        load_capture(saved)


def test_non_rigid_extrinsics(saved):
    _edit_json(saved / "camera.json", lambda d: d.update(T_world_cam=np.diag([2.0, 1, 1, 1]).tolist()))
    with pytest.raises(CaptureError, match="T_world_cam is not a rigid transform"):
        load_capture(saved)


def test_wrong_format_tag_and_bad_depth_scale(saved):
    _edit_json(saved / "camera.json", lambda d: d.update(depth_scale=-1))
    with pytest.raises(CaptureError, match="depth_scale must be a positive number"):
        load_capture(saved)
    _edit_json(saved / "camera.json", lambda d: d.update(format="something-else"))
    with pytest.raises(CaptureError, match='expected "format": "pointwm-camera"'):
        load_capture(saved)


def test_depth_png_not_single_channel(saved):
    from PIL import Image

    Image.fromarray(np.zeros((120, 160, 3), np.uint8)).save(saved / "depth.png")
    with pytest.raises(CaptureError, match="depth.png: expected a 16-bit single-channel PNG"):
        load_capture(saved)


def test_not_a_directory(tmp_path):
    with pytest.raises(CaptureError, match="not a capture directory"):
        load_capture(tmp_path / "nope")


def test_capture_json_with_missing_camera(tmp_path, table_frames):
    path = save_capture(tmp_path / "cap", [f for f, _, _ in table_frames])
    _edit_json(path / "capture.json", lambda d: d["cameras"].append("ghost"))
    with pytest.raises(CaptureError, match=r"ghost/camera.json: missing"):
        load_capture(path)


def test_intrinsics_validation():
    with pytest.raises(CaptureError, match="focal lengths must be > 0"):
        Intrinsics(0.0, 1.0, 0.0, 0.0, 4, 3)
    with pytest.raises(CaptureError, match=r"Intrinsics.width: expected a positive integer, got 4.0"):
        Intrinsics(1.0, 1.0, 0.0, 0.0, 4.0, 3)
    with pytest.raises(CaptureError, match="Intrinsics.cx: expected a finite number"):
        Intrinsics(1.0, 1.0, float("nan"), 0.0, 4, 3)


def test_frame_validation():
    intr = Intrinsics(10.0, 10.0, 1.5, 1.0, 4, 3)
    ok_color, ok_depth = np.zeros((3, 4, 3), np.uint8), np.ones((3, 4), np.float32)
    with pytest.raises(CaptureError, match=r"color and depth differ in size: color is \(3, 5\)"):
        RGBDFrame(np.zeros((3, 5, 3), np.uint8), np.ones((3, 5), np.float32)[:, :4], intr)
    with pytest.raises(CaptureError, match="depth is 5x3 .* intrinsics are for 4x3"):
        RGBDFrame(np.zeros((3, 5, 3), np.uint8), np.ones((3, 5), np.float32), intr)
    with pytest.raises(CaptureError, match="depth: expected float depth in metres"):
        RGBDFrame(ok_color, np.ones((3, 4), np.uint16), intr)
    with pytest.raises(CaptureError, match=r"float colours must lie in \[0, 1\]"):
        RGBDFrame(ok_color.astype(np.float32) + 3, ok_depth, intr)
    with pytest.raises(CaptureError, match="intrinsics: expected Intrinsics"):
        RGBDFrame(ok_color, ok_depth, {"fx": 1})
    assert RGBDFrame(ok_color, ok_depth, intr).color.dtype == torch.float32
