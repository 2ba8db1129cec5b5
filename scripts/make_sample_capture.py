"""Render the sample capture in ``assets/sample_capture`` (two cameras over a table scene).

The scene is ray-cast exactly (``capture.synthetic``), so the capture is reproducible
bit for bit: ``python scripts/make_sample_capture.py`` rewrites the same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from capture import Intrinsics, save_capture
from capture.synthetic import render, table_scene
from pointwm.geometry import look_at
from pointwm.paths import SAMPLE_CAPTURE

CAMERAS = {  # name: (eye, target) in the robot base frame, metres
    "front": ((1.15, 0.0, 0.65), (0.4, 0.0, 0.0)),
    "side": ((0.45, -0.75, 0.55), (0.45, 0.0, 0.0)),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=SAMPLE_CAPTURE)
    args = parser.parse_args(argv)
    intrinsics = Intrinsics.from_fov(640, 480, fov_y_deg=55.0)  # D435-like colour camera
    frames = []
    for name, (eye, target) in CAMERAS.items():
        frame, _, _ = render(table_scene(), intrinsics, look_at(eye, target).numpy(), name=name)
        frames.append(frame)
    save_capture(args.out, frames, overwrite=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
