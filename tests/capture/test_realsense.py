"""RealSense capture through the real pyrealsense2 SDK, without a camera.

A ``rs.software_device`` (depth z16 + colour rgb8, known intrinsics, identity extrinsic)
is recorded with ``rs.recorder`` into a ROS2 ``.db3`` (``write_synthetic_recording``) and
played back through ``rs.pipeline`` by ``read_recording``; what comes back is compared with
what was pushed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from capture import CaptureError, Intrinsics, RGBDFrame, load_capture

rs = pytest.importorskip("pyrealsense2", reason="pyrealsense2 (RealSense SDK) not installed")

from capture.realsense import (  # noqa: E402
    capture_live,
    list_devices,
    load_recording,
    read_recording,
    write_synthetic_recording,
)

pytestmark = pytest.mark.realsense

W, H, N = 64, 48, 5
# float32-exact values, so the intrinsics survive the SDK's float32 storage unchanged
INTR = Intrinsics(fx=50.0, fy=51.5, cx=31.5, cy=23.25, width=W, height=H)
T0 = 10.0  # seconds, first frame's timestamp
FPS = 30


def _depth_mm(n: int) -> np.ndarray:
    """(H, W) uint16 millimetres: a ramp (distinct values) with a hole in the corner."""
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    d = 400 + 7 * u + 3 * v + 50 * n
    d[:4, :4] = 0  # no reading
    return d.astype(np.uint16)


def _color(n: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB pattern, different per frame."""
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    return np.stack([4 * u, 5 * v, np.full_like(u, 40 * n + 1)], axis=-1).astype(np.uint8)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """(path, depths_mm, colors): an N-frame .db3 written through the software device."""
    frames = [
        RGBDFrame(color=_color(n), depth=_depth_mm(n).astype(np.float32) / 1000.0,
                  intrinsics=INTR, timestamp=T0 + n / FPS)
        for n in range(N)
    ]
    path = tmp_path_factory.mktemp("rs") / "synthetic.db3"
    write_synthetic_recording(path, frames, fps=FPS, depth_units=0.001)
    assert path.is_file() and path.stat().st_size > 0
    return path, [_depth_mm(n) for n in range(N)], [_color(n) for n in range(N)]


# Each playback occasionally stalls 10 s inside the SDK (playback.resume(); see
# capture/realsense.py), so the tests share playbacks where they can.
@pytest.fixture(scope="module")
def unaligned(recording):
    return load_recording(recording[0], align=False)


@pytest.fixture(scope="module")
def aligned(recording):
    T = torch.tensor([[0.0, -1, 0, 0.1], [1, 0, 0, -0.2], [0, 0, 1, 0.5], [0, 0, 0, 1]],
                     dtype=torch.float64)
    return T, list(read_recording(recording[0], T_world_cam=T, name="wrist"))


def _check_common(frame: RGBDFrame, colors, T=None) -> int:
    n = frame.meta["color_frame_number"]
    assert frame.meta["depth_frame_number"] == n
    assert frame.intrinsics == INTR
    assert frame.depth.dtype == torch.float32 and frame.depth.shape == (H, W)
    assert torch.equal(frame.color, torch.from_numpy(colors[n]).float() / 255)
    assert frame.timestamp == pytest.approx(T0 + n / FPS, abs=1e-6)
    assert frame.meta["serial"] == "pointwm-synthetic"
    assert frame.meta["depth_scale"] == 0.001
    expected_T = torch.eye(4, dtype=torch.float64) if T is None else torch.as_tensor(T)
    assert torch.equal(frame.T_world_cam, expected_T)
    return n


def test_playback_unaligned_is_exact(recording, unaligned):
    path, depths, colors = recording
    frames = unaligned
    # Non-real-time playback set before the pipeline starts returns every frame (the SDK
    # drops the first one if real-time is switched off after start); each once, in order.
    numbers = [f.meta["color_frame_number"] for f in frames]
    assert numbers == list(range(N))
    for frame in frames:
        n = _check_common(frame, colors)
        d = frame.depth.numpy()
        # metres = z16 units * 0.001 (float64 product, one rounding to float32)
        np.testing.assert_array_equal(d, (depths[n] * 0.001).astype(np.float32))
        np.testing.assert_array_equal(np.round(d * 1000).astype(np.uint16), depths[n])


def test_playback_aligned_is_near_identity(recording, aligned):
    """Same intrinsics + identity extrinsic: rs.align reprojects each depth pixel onto one or
    two colour pixels (nearest wins), so most pixels come back exactly, a few are holes (0)
    and a few take a neighbour's depth. Every non-zero value is one of its 3x3 neighbours'."""
    path, depths, colors = recording
    T, frames = aligned
    assert len(frames) >= 1
    for frame in frames:
        n = _check_common(frame, colors, T)
        assert frame.name == "wrist"
        got = np.round(frame.depth.numpy() * 1000).astype(np.int64)
        want = depths[n].astype(np.int64)
        valid = want > 0
        exact = (got == want)[valid].mean()
        holes = (got == 0)[valid].mean()
        assert exact > 0.85 and holes < 0.10, (exact, holes)
        padded = np.pad(want, 1, constant_values=-1)
        neighbours = np.stack([padded[1 + dv:1 + dv + H, 1 + du:1 + du + W]
                               for dv in (-1, 0, 1) for du in (-1, 0, 1)])
        ok = (got == 0) | (neighbours == got[None]).any(axis=0)  # never invented depth
        assert ok.all(), np.argwhere(~ok)[:5]


def test_max_frames(recording):
    path, _, colors = recording
    frames = list(read_recording(path, max_frames=2, align=False))
    assert [f.meta["color_frame_number"] for f in frames] == [0, 1]
    assert list(read_recording(path, max_frames=0)) == []


def test_recording_errors_name_the_path(tmp_path, recording):
    missing = tmp_path / "missing.db3"
    with pytest.raises(CaptureError, match="missing.db3: recording not found"):
        read_recording(missing)
    with pytest.raises(CaptureError, match="not a file"):
        read_recording(tmp_path)
    for name in ("junk.db3", "junk.bag"):
        junk = tmp_path / name
        junk.write_bytes(b"this is not a recording\n" * 10)
        with pytest.raises(CaptureError, match=f"{name}: not a RealSense recording"):
            read_recording(junk)
    with pytest.raises(CaptureError, match="max_frames"):
        read_recording(recording[0], max_frames=-1)


def test_write_synthetic_recording_errors(tmp_path, recording):
    frame = RGBDFrame(np.zeros((H, W, 3), np.uint8), np.ones((H, W), np.float32), INTR)
    with pytest.raises(CaptureError, match=r"only ROS2 \.db3"):
        write_synthetic_recording(tmp_path / "x.bag", [frame])
    with pytest.raises(CaptureError, match="already exists"):
        write_synthetic_recording(recording[0], [frame])
    with pytest.raises(CaptureError, match="non-empty"):
        write_synthetic_recording(tmp_path / "x.db3", [])
    far = RGBDFrame(np.zeros((H, W, 3), np.uint8), np.full((H, W), 70.0, np.float32), INTR)
    with pytest.raises(CaptureError, match="does not fit in z16"):
        write_synthetic_recording(tmp_path / "x.db3", [far])
    assert not (tmp_path / "x.db3").exists()


def test_capture_live_without_camera_is_one_clear_error():
    if list_devices():
        pytest.skip("a RealSense camera is connected")
    with pytest.raises(CaptureError, match="no RealSense device found"):
        capture_live(timeout_ms=500)
    with pytest.raises(CaptureError, match="width"):
        capture_live(width=0)


def test_import_capture_does_not_load_pyrealsense2():
    code = ("import sys, capture, capture.realsense; "
            "assert 'pyrealsense2' not in sys.modules, 'eager import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_capture_from_recording(tmp_path, recording, aligned, capsys):
    from pointwm.cli import main

    path, depths, colors = recording
    T = [[1.0, 0, 0, 0.3], [0, -1, 0, 0.0], [0, 0, -1, 0.8], [0, 0, 0, 1]]
    (tmp_path / "T.json").write_text(json.dumps({"T_world_cam": T}))
    out = tmp_path / "cap"
    argv = ["-q", "capture", "--out", str(out), "--recording", str(path), "--frame", "2",
            "--extrinsics", str(tmp_path / "T.json"), "--name", "front"]
    assert main(argv) == 0
    assert str(out) in capsys.readouterr().out
    (frame,) = load_capture(out)
    ref = aligned[1][2]
    assert frame.name == "front" and frame.intrinsics == INTR
    assert torch.equal(frame.T_world_cam, torch.tensor(T, dtype=torch.float64))
    assert torch.equal(frame.color, torch.from_numpy(colors[2]).float() / 255)
    # depth.png stores millimetres: the saved capture reproduces playback's depth
    np.testing.assert_array_equal(np.round(frame.depth.numpy() * 1000), np.round(ref.depth.numpy() * 1000))
    assert frame.meta["color_frame_number"] == 2

    np.save(tmp_path / "T.npy", np.array(T))
    assert main(["-q", "capture", "--out", str(out), "--recording", str(path),
                 "--extrinsics", str(tmp_path / "T.npy"), "--overwrite"]) == 0
    assert load_capture(out)[0].meta["color_frame_number"] == 0


def test_cli_capture_errors(tmp_path, recording, capsys):
    from pointwm.cli import main

    path = recording[0]
    cases = [
        (["--recording", str(path), "--frame", "99"], "no frame 99"),
        (["--frame", "1"], "--frame needs --recording"),
        (["--recording", str(tmp_path / "nope.db3")], "nope.db3: recording not found"),
        (["--recording", str(path), "--extrinsics", str(tmp_path / "T.txt")], "T.txt"),
    ]
    (tmp_path / "T.txt").write_text("1 0 0 0")
    for extra, message in cases:
        assert main(["capture", "--out", str(tmp_path / "o"), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o").exists()


def test_default_timestamps_and_depth_units(tmp_path):
    """Frames without increasing timestamps get i / fps; depth units other than 1 mm."""
    frames = [RGBDFrame(np.full((H, W, 3), 30 * i, np.uint8), np.full((H, W), 1.2345, np.float32), INTR)
              for i in range(3)]
    path = write_synthetic_recording(tmp_path / "u.db3", frames, fps=15, depth_units=0.0001)
    out = load_recording(path, align=False)
    assert [f.timestamp for f in out] == pytest.approx([0.0, 1 / 15, 2 / 15], abs=1e-6)
    for f in out:
        assert f.meta["depth_scale"] == 0.0001
        np.testing.assert_array_equal(f.depth.numpy(), np.float32(12345 * 0.0001))


def test_recording_without_colour_stream(tmp_path):
    """A depth-only recording made with the SDK directly is refused by name."""
    path = tmp_path / "depth_only.db3"
    device = rs.software_device()
    sensor = device.add_sensor("Depth")
    sensor.add_read_only_option(rs.option.depth_units, 0.001)
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = W, H, 50.0, 50.0, 31.5, 23.5
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid, stream.width, stream.height = rs.stream.depth, 0, 0, W, H
    stream.fps, stream.bpp, stream.fmt, stream.intrinsics = FPS, 2, rs.format.z16, intr
    profile = sensor.add_video_stream(stream, True).as_video_stream_profile()
    recorder = rs.recorder(str(path), device)
    sensor.open(profile)
    sensor.start(lambda frame: None)
    frame = rs.software_video_frame()
    pixels = np.full((H, W), 500, np.uint16)
    frame.pixels, frame.bpp, frame.stride, frame.timestamp = pixels, 2, 2 * W, 0.0
    frame.domain, frame.frame_number, frame.profile = rs.timestamp_domain.hardware_clock, 0, profile
    sensor.on_video_frame(frame)
    sensor.stop()
    sensor.close()
    recorder.pause()
    del recorder, sensor, device  # the recorder writes the file out when destroyed
    with pytest.raises(CaptureError, match="depth_only.db3: recording has no colour stream"):
        read_recording(path)


def test_missing_sdk_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)  # makes `import pyrealsense2` fail
    with pytest.raises(CaptureError, match="pip install pyrealsense2"):
        list_devices()
