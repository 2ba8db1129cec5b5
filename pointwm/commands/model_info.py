"""``pointwm model-info``: a model config (YAML) or checkpoint → its size and layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from pointwm.model import ModelConfig, count_parameters
from pointwm.model.checkpoint import read_checkpoint
from pointwm.paths import CONFIGS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "model-info",
        help="print the parameter count of a world-model config or checkpoint",
        description="Print the parameter count and stage layout of a world model, given a "
        "config (configs/model/<size>.yaml, or just the size name) or a .safetensors "
        "checkpoint. Counting builds the model on the meta device: no memory is allocated.",
    )
    p.add_argument("config", help="YAML config path, a size name (tiny, small, base, large), "
                   "or a .safetensors checkpoint")
    p.set_defaults(func=run)


def resolve_config(spec: str):
    """A ModelConfig from a YAML path, a size name under configs/model/, or a checkpoint."""
    path = Path(spec)
    if path.suffix == ".safetensors":
        config, _ = read_checkpoint(path)
        return ModelConfig.from_dict(config, source=f"checkpoint {path}")
    if not path.exists() and path.suffix == "":
        named = CONFIGS / "model" / f"{spec}.yaml"
        if named.is_file():
            path = named
    return ModelConfig.from_yaml(path)


def run(args: argparse.Namespace) -> int:
    config = resolve_config(args.config)
    n = count_parameters(config)
    bb = config.backbone
    print(f"model:      {config.name}")
    print(f"parameters: {n:,} ({n / 1e6:.1f} M)")
    print(f"encoder:    depths {list(bb.enc_depths)}, channels {list(bb.enc_channels)}")
    print(f"decoder:    depths {list(bb.dec_depths)}, channels {list(bb.dec_channels)}")
    print(f"steps T:    {config.num_steps}; grid {config.grid_size} m; patch {bb.patch_size}")
    return 0
