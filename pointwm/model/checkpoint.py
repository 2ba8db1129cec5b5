"""World-model checkpoints: one safetensors file, config and format in its metadata.

Layout: the tensors of ``state_dict()`` (weights and buffers, including the normalisation
statistics) in safetensors format, plus string metadata ``format`` (= ``FORMAT``) and
``config`` (the model configuration as JSON), and optionally ``robots`` (JSON: robot name →
the ``point_sampling`` of the robot points the weights were trained with). No pickle anywhere. Writes go to a
temporary file in the same folder, are flushed to disk, then renamed over the target, so
a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor

__all__ = ["FORMAT", "CheckpointError", "read_checkpoint", "read_checkpoint_with_robots", "write_checkpoint"]

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from pointwm.atomic import atomic_path
from pointwm.errors import PointwmError

log = logging.getLogger(__name__)

FORMAT = "pointwm.world_model/1"


class CheckpointError(PointwmError, ValueError):
    """A checkpoint file that is missing, truncated, corrupt or does not fit the model."""


def write_checkpoint(path: str | Path, tensors: Mapping[str, Tensor], config: Mapping[str, Any],
                     robots: Mapping[str, Any] | None = None) -> Path:
    """Write ``tensors`` (name → tensor, any device), ``config`` and ``robots`` (JSON-able) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {"format": FORMAT, "config": json.dumps(dict(config), sort_keys=True)}
    if robots:
        meta["robots"] = json.dumps(dict(robots), sort_keys=True)
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata=meta)
    log.info("wrote checkpoint %s (%d tensors)", path, len(cpu))
    return path


def _check_header(path: Path) -> None:
    """Raise CheckpointError unless ``path`` holds a complete safetensors header and body."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"checkpoint {path}: truncated ({size} bytes, no safetensors header)")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise CheckpointError(
                f"checkpoint {path}: truncated or not a safetensors file (header of {n} bytes, "
                f"file of {size})"
            )
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"checkpoint {path}: corrupt safetensors header ({e})") from None
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise CheckpointError(
            f"checkpoint {path}: truncated ({size} bytes, the header describes {8 + n + end})"
        )


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(config dict, tensors on the CPU) of a checkpoint written by :func:`write_checkpoint`."""
    config, tensors, _ = read_checkpoint_with_robots(path)
    return config, tensors


def read_checkpoint_with_robots(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor], dict[str, dict]]:
    """As :func:`read_checkpoint`, plus robot name → ``point_sampling`` ({} for checkpoints
    written before robots were recorded)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file")
    _check_header(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open API)
    except SafetensorError as e:
        raise CheckpointError(f"checkpoint {path}: unreadable safetensors file ({e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint {path}: format {meta.get('format')!r}, expected {FORMAT!r} "
            "(not a pointwm world-model checkpoint)"
        )
    try:
        config = json.loads(meta["config"])
    except (KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint {path}: missing or corrupt config metadata ({e})") from None
    try:
        robots = json.loads(meta.get("robots", "{}"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"checkpoint {path}: corrupt robots metadata ({e})") from None
    if not isinstance(robots, dict):
        raise CheckpointError(f"checkpoint {path}: robots metadata: expected a JSON object, got {robots!r}")
    return config, tensors, robots
