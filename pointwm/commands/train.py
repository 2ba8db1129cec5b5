"""``pointwm train``: train the world model on one or more clip archives.

Single process: ``pointwm train --config configs/train/tiny_sim.yaml --data ARCHIVE``.
Several processes (DDP, gloo on the CPU / nccl on GPUs):
``torchrun --nproc-per-node 2 -m pointwm.cli train --config ... --data ...``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from pointwm.train import load_train_config, train


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the world model on clip archives (resumable, DDP under torchrun)",
        description="Train the world model on clip archives (pointwm generate, pointwm data). "
        "Writes OUT/config.json, OUT/metrics.csv, OUT/tensorboard/ (if tensorboard is "
        "installed), checkpoints in OUT/checkpoints/ and the final weights OUT/model.safetensors. "
        "Interrupt at any time and rerun with --resume to continue exactly.",
    )
    p.add_argument("--config", type=Path, required=True, help="train config YAML (configs/train/*.yaml)")
    p.add_argument("--data", type=Path, nargs="+", required=True, help="archive folder(s) with manifest.json")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT")
    p.add_argument("--init", type=Path, default=None,
                   help="start from these weights (.safetensors of the same model config, or of the same "
                        "model without contact features): fine-tuning")
    p.add_argument("--steps", type=int, default=None, help="override the config's total steps")
    p.add_argument("--batch-size", type=int, default=None, help="override clips per step per process")
    p.add_argument("--lr", type=float, default=None, help="override the peak learning rate")
    p.add_argument("--workers", type=int, default=None, help="override DataLoader workers")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_train_config(args.config)
    cfg = cfg.with_overrides(steps=args.steps, batch_size=args.batch_size, num_workers=args.workers)
    if args.lr is not None:
        cfg = replace(cfg, optim=replace(cfg.optim, lr=args.lr))
    out = args.out or Path("runs") / cfg.name
    result = train(cfg, args.data, out, resume=args.resume, init=args.init, device=args.device,
                   progress=not args.no_progress)
    if result.final is not None:
        last = result.losses[-1] if result.losses else float("nan")
        print(f"trained {cfg.name}: steps {result.start_step}..{result.end_step} in {result.seconds:.0f} s, "
              f"last loss {last:.4f}\nweights: {result.final}\nevaluate: pointwm eval --checkpoint {result.final} "
              "--data HELD_OUT_ARCHIVE")
    return 0
