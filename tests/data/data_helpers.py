"""Plain helpers for the data tests (imported by the test modules, not fixtures)."""

from __future__ import annotations

import numpy as np

from pointwm.data.clip import CameraView, Clip

PANDA_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8)) + ("panda_finger_joint1",)


def make_clip(key: str = "c0", T: int = 3, N: int = 40, cams: int = 1, robot: str = "panda",
              seed: int = 0, H: int = 12, W: int = 16) -> Clip:
    """A small random but well-formed clip (panda joint names, in-limit joints)."""
    rng = np.random.default_rng(seed)
    xyz = rng.uniform([0.2, -0.3, 0.0], [0.6, 0.3, 0.2], (N, 3)).astype(np.float32)
    points = xyz[None] + np.cumsum(rng.normal(0, 0.01, (T + 1, N, 3)), axis=0).astype(np.float32)
    points[0] = xyz
    n = rng.normal(size=(N, 3))
    q = np.tile(np.array([0, -0.785, 0, -2.356, 0, 1.571, 0.785, 0.04], np.float32), (T + 1, 1))
    q[:, 0] += np.linspace(0, 0.2, T + 1, dtype=np.float32)
    views = []
    for i in range(cams):
        K = np.array([[20.0, 0, (W - 1) / 2], [0, 20.0, (H - 1) / 2], [0, 0, 1]])
        T_wc = np.eye(4)
        T_wc[:3, 3] = (1.0, 0.1 * i, 0.8)
        views.append(CameraView(f"cam{i}", rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
                                np.round(rng.uniform(0.5, 1.5, (H, W)), 3).astype(np.float32), K, T_wc,
                                rng.integers(-1, 3, (H, W)).astype(np.int32)))
    return Clip(
        key=key, robot=robot, joint_names=PANDA_JOINTS, q=q,
        gripper=np.ones(T + 1, np.float32), points=points,
        colors=rng.integers(0, 256, (N, 3), dtype=np.uint8),
        normals=(n / np.linalg.norm(n, axis=1, keepdims=True)).astype(np.float32),
        valid=rng.uniform(size=N) > 0.1, visible=np.ones((T + 1, N), bool),
        point_camera=rng.integers(0, cams, N).astype(np.int16),
        segment=rng.integers(0, 3, N).astype(np.int16), cameras=tuple(views), dt=0.1,
        provenance={"source": "test", "seed": seed},
    ).check()


def run_cli(argv: list[str]) -> int:
    """``pointwm ARGV`` with the data commands registered (until cli.COMMANDS lists them)."""
    import pointwm.cli as cli

    names = list(cli.COMMANDS) + [n for n in ("data", "generate") if n not in cli.COMMANDS]
    saved, cli.COMMANDS = cli.COMMANDS, names
    try:
        return cli.main(argv)
    finally:
        cli.COMMANDS = saved
