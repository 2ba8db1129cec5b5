"""Browser viewer of a ``FlowScene`` on viser: open http://HOST:PORT in any browser.

The server binds to 127.0.0.1 by default (reach it from elsewhere with
``ssh -L 8080:127.0.0.1:8080 HOST``); it never reads the terminal, so it runs headless, and
``serve_forever`` returns on SIGINT or SIGTERM after shutting the server down.

What it shows: the scene cloud in its colours (optionally moved along the flow), the robot's
points at the current step, the predicted flow (orange to red) and the ground-truth flow
(cyan to blue) as segments from each point's t0 position to its position at the step, the
goal points (blue) with their targets (magenta) and a segment between them. Controls: step
slider and play, show prediction / ground truth, point size, flow density (fraction of
moving points drawn), minimum displacement, scene follows flow.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import signal
import socket
import threading
import time

import numpy as np

from pointwm.errors import InputError, PointwmError
from pointwm.viz.bundle import FlowScene

__all__ = ["FlowViewer", "PortInUseError", "check_port_free", "serve"]

log = logging.getLogger(__name__)

PRED_COLORS = (np.array([1.0, 0.65, 0.0]), np.array([0.85, 0.0, 0.0]))  # start, end of a segment
GT_COLORS = (np.array([0.0, 0.85, 0.9]), np.array([0.0, 0.2, 0.9]))
ROBOT_COLOR = (70, 70, 80)
GOAL_COLOR = (30, 90, 255)
TARGET_COLOR = (230, 0, 230)


class PortInUseError(PointwmError, OSError):
    """The viewer's port is taken; the message names host and port and what to do."""


def check_port_free(host: str, port: int) -> None:
    """Raise ``PortInUseError`` when nothing can listen on ``host:port`` (0 = any port is fine)."""
    if not 0 <= int(port) <= 65535:
        raise InputError(f"port must be in [0, 65535], got {port}")
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is fine
        try:
            s.bind((host, int(port)))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use (another viewer?); "
                    f"choose another with --port") from None
            raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


class FlowViewer:
    """A viser server showing one ``FlowScene``; it starts serving on construction.

    scene:      what to show.
    host, port: where to listen (127.0.0.1 by default; port 0 picks a free one). A taken
                port raises ``PortInUseError`` (viser itself would silently move on to the
                next port, which breaks SSH forwarding and bookmarks).
    point_size: scene point size in metres (the GUI can change it).
    """

    def __init__(self, scene: FlowScene, host: str = "127.0.0.1", port: int = 8080,
                 point_size: float = 0.01, max_segments: int = 20_000) -> None:
        import viser

        check_port_free(host, port)
        ws_log = logging.getLogger("websockets")  # one INFO line per connection otherwise
        ws_log.setLevel(max(ws_log.level, logging.WARNING))
        self.scene = scene
        self.max_segments = int(max_segments)
        with contextlib.redirect_stdout(io.StringIO()):  # viser prints a banner; the CLI prints the URL
            self.server = viser.ViserServer(host=host, port=int(port), label=f"pointwm: {scene.name}",
                                            verbose=False)
        if port and self.server.get_port() != int(port):  # lost a race for the port
            self._stop_server()
            raise PortInUseError(f"port {port} on {host} is already in use; choose another with --port")
        self.host, self.port = host, int(self.server.get_port())
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._player: threading.Thread | None = None
        self._flow_nodes: dict = {}
        try:
            self._setup(point_size)
        except BaseException:
            self.stop()  # never leave a half-built server holding the port
            raise
        if host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("viewer bound to %s: anyone who can reach this machine on port %d can see it",
                        host, self.port)
        log.info("viewer for %s at %s", scene.name, self.url)

    def _setup(self, point_size: float) -> None:
        """Per-point magnitudes and density ranks, camera, GUI, first draw."""
        scene = self.scene
        # No share button: it would open a public tunnel to this machine through viser's relay.
        self.server.gui.configure_theme(show_share_button=False)
        self._mag = {k: np.linalg.norm(f, axis=2) for k in ("pred", "gt")
                     if (f := scene.flow(k)) is not None}  # (T, N) metres
        order = np.random.default_rng(0).permutation(scene.num_points)
        self._rank = np.empty(scene.num_points, np.int64)  # density: keep points with rank < fraction * N
        self._rank[order] = np.arange(scene.num_points)
        self._set_camera()
        self._build_gui(scene.num_steps, point_size)
        self.redraw()

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '') else host}:{self.port}/"

    def _set_camera(self) -> None:
        pts = self.scene.xyz
        robot = self.scene.robot_flow.reshape(-1, 3)
        if len(robot):
            pts = np.concatenate([pts, robot])
        if not len(pts):
            return
        lo, hi = pts.min(0), pts.max(0)
        center = (lo + hi) / 2
        extent = max(float((hi - lo).max()), 0.2)
        self.server.initial_camera.look_at = tuple(float(v) for v in center)
        direction = np.array([0.75, -0.45, 0.5])  # in front of the robot, to its right, above
        direction /= np.linalg.norm(direction)
        self.server.initial_camera.position = tuple(float(v) for v in center + 1.6 * extent * direction)
        self.server.initial_camera.up = (0.0, 0.0, 1.0)

    def _build_gui(self, T: int, point_size: float) -> None:
        gui, s = self.server.gui, self.scene
        lines = [f"**{s.name}**", f"{s.num_points} scene points, {s.robot_flow.shape[1]} robot points, T = {T}"]
        for k in ("pred", "gt"):
            if k in self._mag:
                moved = int((self._mag[k][-1] > 0.005).sum())
                lines.append(f"{'predicted' if k == 'pred' else 'ground truth'}: {moved} points moved > 5 mm")
        extra = [f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in s.meta.items()
                 if isinstance(v, (int, float, str)) and len(str(v)) < 60]
        gui.add_markdown("  \n".join(lines + extra[:8]))
        self.step = gui.add_slider("step", min=0, max=max(T, 1), step=1, initial_value=T, disabled=T == 0)
        self.play = gui.add_checkbox("play", initial_value=False, disabled=T == 0)
        self.show_pred = gui.add_checkbox("show prediction", initial_value=s.pred_flow is not None,
                                          disabled=s.pred_flow is None)
        self.show_gt = gui.add_checkbox("show ground truth", initial_value=s.pred_flow is None and s.gt_flow is not None,
                                        disabled=s.gt_flow is None)
        self.follow = gui.add_checkbox("scene follows flow", initial_value=False,
                                       hint="move the scene points to their position at the step")
        self.show_robot = gui.add_checkbox("show robot", initial_value=True, disabled=s.robot_flow.shape[1] == 0)
        self.point_size = gui.add_slider("point size (mm)", min=1.0, max=30.0, step=0.5,
                                         initial_value=float(point_size * 1000))
        moved = max([int((m[-1] > 0.005).sum()) for m in self._mag.values()] or [0])
        self.density = gui.add_slider("flow density", min=0.01, max=1.0, step=0.01,
                                      initial_value=round(min(1.0, max(0.01, 2000 / max(moved, 1))), 2),
                                      hint="fraction of the moving points drawn as segments")
        self.min_mm = gui.add_slider("min displacement (mm)", min=0.0, max=50.0, step=0.5, initial_value=5.0)
        self.show_goal = gui.add_checkbox("show goal", initial_value=s.goal_idx is not None,
                                          disabled=s.goal_idx is None)
        for handle in (self.step, self.show_pred, self.show_gt, self.follow, self.show_robot,
                       self.point_size, self.density, self.min_mm, self.show_goal):
            handle.on_update(lambda _event: self.redraw())
        self.play.on_update(lambda _event: self._toggle_play())

    def _toggle_play(self) -> None:
        if self.play.value and (self._player is None or not self._player.is_alive()):
            self._player = threading.Thread(target=self._play_loop, name="pointwm-viewer-play", daemon=True)
            self._player.start()

    def _play_loop(self) -> None:
        T = self.scene.num_steps
        while self.play.value and not self._stopped.wait(0.4):
            self.step.value = (int(self.step.value) + 1) % (T + 1)  # triggers redraw

    def _segments(self, which: str, t: int, cols) -> tuple[np.ndarray, np.ndarray] | None:
        """Segments (S, 2, 3) from t0 to step t for the drawn points of flow ``which``."""
        if t == 0 or which not in self._mag:
            return None
        mag = self._mag[which][t - 1]
        keep = (mag >= self.min_mm.value / 1000.0) & (self._rank < self.density.value * len(mag))
        idx = np.flatnonzero(keep)
        if len(idx) > self.max_segments:
            idx = idx[np.argsort(-mag[idx], kind="stable")[: self.max_segments]]
        if not len(idx):
            return None
        a = self.scene.xyz[idx]
        b = a + self.scene.flow(which)[t - 1, idx]
        colors = np.broadcast_to(np.stack(cols)[None], (len(idx), 2, 3))
        return np.stack([a, b], 1).astype(np.float32), np.ascontiguousarray(colors, dtype=np.float32)

    def redraw(self) -> None:
        """Re-send every scene node for the current control values (thread-safe)."""
        if self._stopped.is_set():
            return
        with self._lock:
            s, add = self.scene, self.server.scene
            t = int(self.step.value) if s.num_steps else 0
            size = float(self.point_size.value) / 1000.0
            which = "pred" if self.show_pred.value else "gt" if self.show_gt.value else "auto"
            pos = s.positions(t, which) if self.follow.value else s.xyz
            add.add_point_cloud("/scene", pos, s.color, point_size=size, point_shading="flat")
            robot = s.robot_flow[min(t, s.robot_flow.shape[0] - 1)]
            if len(robot):
                add.add_point_cloud("/robot", robot, ROBOT_COLOR, point_size=size * 0.8,
                                    point_shading="flat", visible=bool(self.show_robot.value))
            for name, key, show, cols in (("/flow/pred", "pred", self.show_pred.value, PRED_COLORS),
                                          ("/flow/gt", "gt", self.show_gt.value, GT_COLORS)):
                seg = self._segments(key, t, cols) if show else None
                old = self._flow_nodes.pop(name, None)
                if seg is None:
                    if old is not None:
                        old.remove()
                else:
                    self._flow_nodes[name] = add.add_line_segments(name, seg[0], seg[1], thickness=3.0,
                                                                   thickness_units="screen")
            if s.goal_idx is not None and len(s.goal_idx):
                visible = bool(self.show_goal.value)
                g = s.positions(t, which)[s.goal_idx]
                add.add_point_cloud("/goal/points", g, GOAL_COLOR, point_size=size * 2.0,
                                    point_shading="flat", visible=visible)
                if s.goal_targets is not None:
                    add.add_point_cloud("/goal/targets", s.goal_targets, TARGET_COLOR, point_size=size * 2.0,
                                        point_shape="diamond", point_shading="flat", visible=visible)
                    add.add_line_segments("/goal/links", np.stack([g, s.goal_targets], 1), TARGET_COLOR,
                                          thickness=1.0, thickness_units="screen", visible=visible)

    def stop(self) -> None:
        """Stop serving (idempotent); the port is free when this returns."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._stop_server()
        if self._player is not None:
            self._player.join(timeout=2.0)
        log.info("viewer on port %d stopped", self.port)

    def _stop_server(self) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # "(viser) Server stopped"
            self.server.stop()

    def serve_forever(self, stop_event: threading.Event | None = None) -> None:
        """Block until SIGINT/SIGTERM (or ``stop_event``), then ``stop()``.

        Signal handlers are installed only when called from the main thread, and the previous
        handlers are restored on return. Nothing reads stdin.
        """
        stop_event = stop_event or threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda signum, _frame: stop_event.set())
        try:
            while not stop_event.wait(0.2):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()


def serve(scene: FlowScene, host: str = "127.0.0.1", port: int = 8080, point_size: float = 0.01,
          on_ready=None) -> None:
    """Show ``scene`` at http://HOST:PORT until SIGINT/SIGTERM; ``on_ready(viewer)`` once serving."""
    t0 = time.perf_counter()
    # Catch SIGINT/SIGTERM from the start: one that lands while the server is starting (it
    # answers HTTP before serve_forever runs) stops the viewer cleanly once it is up.
    stop_event = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, _frame: stop_event.set())
    try:
        viewer = FlowViewer(scene, host=host, port=port, point_size=point_size)
        if on_ready is not None:
            on_ready(viewer)
        viewer.serve_forever(stop_event)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("served %.0f s", time.perf_counter() - t0)
