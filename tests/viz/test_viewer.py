"""The browser viewer: a real headless Chromium renders the scene; clean shutdown; busy ports.

The browser test needs Debian's ``chromium`` (``apt-get install -y chromium``); WebGL runs
on SwiftShader (software), so no GPU is needed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest
from cdp import HeadlessChromium
from PIL import Image
from viz_helpers import free_port, make_scene, run_cli, viz_command

from pointwm.viz import save_prediction
from pointwm.viz.viewer import FlowViewer, PortInUseError, check_port_free

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _red_pixels(path) -> np.ndarray:
    """(H, W) bool: pixels of the test's pure red cloud (the page background is white; the
    flow segments are orange, the robot dark grey)."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    return (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: apt-get install -y chromium")
def test_viewer_renders_scene_in_headless_chromium(tmp_path):
    scene = make_scene(N=3000, T=3, color=(1.0, 0.0, 0.0), gt=False, goal=False)
    bundle = save_prediction(tmp_path / "red.npz", scene.xyz, scene.robot_flow, scene.pred_flow,
                             scene_color=scene.color)
    port = free_port()
    server = subprocess.Popen(viz_command(str(bundle), "--port", str(port)), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/")
        shot = tmp_path / "viewer.png"
        with HeadlessChromium(CHROMIUM, tmp_path / "chromium-profile", size=(1000, 700)) as browser:
            browser.open(f"http://127.0.0.1:{port}/")
            deadline = time.monotonic() + 45  # software WebGL; new nodes fade in over ~1 s
            while _red_pixels(browser.screenshot(shot)).sum() < 5000 and time.monotonic() < deadline:
                time.sleep(0.5)
        red = _red_pixels(shot)
        h, w = red.shape
        # The cloud sits in the middle of the view (the camera looks at its centre).
        assert red.sum() > 5000, f"only {red.sum()} red pixels: the scene was not rendered ({shot})"
        ys, xs = np.nonzero(red)
        assert h * 0.2 < ys.mean() < h * 0.8 and w * 0.2 < xs.mean() < w * 0.8
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0, out
    assert "viewer stopped" in out
    check_port_free("127.0.0.1", port)  # the port is free again


def test_viewer_stops_cleanly_on_sigint(bundle):
    port = free_port()
    server = subprocess.Popen(viz_command(str(bundle), "--port", str(port)), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/")
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=20)
    assert server.returncode == 0, out
    assert f"viewer: http://127.0.0.1:{port}/" in out and "Traceback" not in out
    check_port_free("127.0.0.1", port)


def test_viewer_in_process_start_stop_frees_port():
    port = free_port()
    viewer = FlowViewer(make_scene(N=200, T=2), port=port)
    try:
        assert viewer.url == f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(viewer.url, timeout=5) as r:
            assert r.status == 200
        viewer.step.value = 1  # controls redraw without error
        viewer.show_gt.value = True
        viewer.density.value = 0.1
        viewer.follow.value = True
    finally:
        viewer.stop()
    viewer.stop()  # idempotent
    check_port_free("127.0.0.1", port)


def test_port_in_use_is_one_clear_error(tmp_path, bundle, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"):
            FlowViewer(make_scene(N=50, T=1), port=port)
        assert run_cli(["viz", str(bundle), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"pointwm viz: error: port {port} on 127.0.0.1 is already in use (another viewer?); "
                   "choose another with --port"]
