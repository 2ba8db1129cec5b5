"""Training checkpoints: weights (safetensors) + training state (torch, ``weights_only``).

A checkpoint of step s in ``RUN/checkpoints/`` is two files:

- ``step_{s:08d}.safetensors``: the model (:meth:`WorldModel.save`: weights, ``flow_std``,
  model config);
- ``step_{s:08d}.state.pt``: a dict of tensors and plain values only (loadable with
  ``torch.load(weights_only=True)``): format, step, data position, optimiser and LR-scheduler
  state, RNG states, world size, and the train config as JSON.

Both are written to a temporary file and renamed; the state file is written last and is
the commit marker: a checkpoint exists once its state file does, so a crash between the
two writes leaves the previous checkpoint as the latest.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pointwm.atomic import write_bytes
from pointwm.model.checkpoint import CheckpointError

__all__ = [
    "STATE_FORMAT",
    "TrainCheckpoint",
    "find_latest",
    "list_checkpoints",
    "load_state",
    "prune_checkpoints",
    "save_state",
    "weights_path",
]

log = logging.getLogger(__name__)

STATE_FORMAT = "pointwm.train_state/1"
_STATE_RE = re.compile(r"^step_(\d{8})\.state\.pt$")


@dataclass(frozen=True)
class TrainCheckpoint:
    """One checkpoint on disk: its step and the paths of its two files."""

    step: int
    weights: Path
    state: Path


def weights_path(ckpt_dir: Path, step: int) -> Path:
    return Path(ckpt_dir) / f"step_{step:08d}.safetensors"


def _state_path(ckpt_dir: Path, step: int) -> Path:
    return Path(ckpt_dir) / f"step_{step:08d}.state.pt"


def list_checkpoints(ckpt_dir: str | Path) -> list[TrainCheckpoint]:
    """Complete checkpoints (state file and weights both present), oldest first."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    out = []
    for p in ckpt_dir.iterdir():
        m = _STATE_RE.match(p.name)
        if m:
            step = int(m.group(1))
            w = weights_path(ckpt_dir, step)
            if w.is_file():
                out.append(TrainCheckpoint(step, w, p))
    return sorted(out, key=lambda c: c.step)


def find_latest(ckpt_dir: str | Path) -> TrainCheckpoint | None:
    """The newest complete checkpoint in ``ckpt_dir``, or None."""
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def save_state(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors and plain values) with ``torch.save``, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save({"format": STATE_FORMAT, **state}, buf)
    return write_bytes(path, buf.getvalue())


def load_state(path: str | Path) -> dict[str, Any]:
    """A state dict written by :func:`save_state`, loaded with ``weights_only=True``.

    Raises :class:`~pointwm.model.CheckpointError` for a missing, truncated or foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training state {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (torch raises many types for corrupt zip/pickle data)
        raise CheckpointError(f"training state {path}: unreadable ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        fmt = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"training state {path}: format {fmt!r}, expected {STATE_FORMAT!r}")
    return state


def prune_checkpoints(ckpt_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (state file first, then weights)."""
    for c in list_checkpoints(ckpt_dir)[:-keep] if keep > 0 else []:
        c.state.unlink(missing_ok=True)
        c.weights.unlink(missing_ok=True)


def config_json(d: dict[str, Any]) -> str:
    return json.dumps(d, sort_keys=True)
