"""Where the project's shipped files live: the one resolver for ``cuda/``, ``configs/``, ``assets/``.

In a source checkout (and an editable install) they are the top-level folders beside
``pointwm/``. A wheel ships them as package data under ``pointwm/_files/`` (setup.py maps
them there) with the checkout's layout, so a path relative to one of them, or a YAML's
``../../assets/...``, means the same file in both. The installed copy is found through
``importlib.resources`` and wins; the checkout is the fallback. Everything that reads a
shipped file goes through these names.

Kept a leaf: the standard library only (kinematics and planning import it).
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path

__all__ = ["ASSETS", "CONFIGS", "CUDA_SOURCES", "DATA_ROOT", "SAMPLE_CAPTURE"]

_CHECKOUT = Path(__file__).resolve().parents[1]  # the folder above pointwm/ (site-packages in a wheel)

_keep = ExitStack()  # as_file may extract to a temporary folder; it lives until exit
atexit.register(_keep.close)


def _data_root() -> Path:
    """``pointwm/_files`` of an installed wheel if it is there, else the checkout."""
    try:
        installed = files("pointwm") / "_files"
        if installed.is_dir():
            # A real folder already for a normal install; g++, NVRTC and yourdfpy need one.
            path = _keep.enter_context(as_file(installed))
            if path.is_dir():
                return path
    except (OSError, TypeError, ValueError):  # e.g. a zip import that cannot give a folder
        pass
    return _CHECKOUT


DATA_ROOT = _data_root()  # holds cuda/, configs/ and assets/
CUDA_SOURCES = DATA_ROOT / "cuda"  # kernel sources (.cu, .cuh, host_emulation.h)
CONFIGS = DATA_ROOT / "configs"  # model/, train/, planner/, robots/ YAML
ASSETS = DATA_ROOT / "assets"  # robots/, sample_capture/, checkpoints/
SAMPLE_CAPTURE = ASSETS / "sample_capture"
