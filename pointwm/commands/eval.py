"""``pointwm eval``: score a checkpoint and the two baselines on a clip archive."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pointwm.commands.common import write_json
from pointwm.eval import evaluate
from pointwm.model import WorldModel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a checkpoint beside the zero-flow and nearest-robot-point baselines",
        description="Predict the scene flow of every clip of an archive (no augmentation) and "
        "report l2 / l2_moved / l2_static per step for the model, the zero-flow baseline and "
        "the nearest-robot-point baseline. Prints a table; writes JSON and Markdown.",
    )
    p.add_argument("--checkpoint", type=Path, required=True, help="model weights (.safetensors)")
    p.add_argument("--data", type=Path, nargs="+", required=True, help="archive folder(s) with manifest.json")
    p.add_argument("--out", type=Path, default=None,
                   help="report JSON path (default: CHECKPOINT with .eval.json); Markdown beside it (.md)")
    p.add_argument("--max-clips", type=int, default=None, help="evaluate at most this many clips")
    p.add_argument("--robot-points", type=int, default=500, help="robot surface points M (default: %(default)s)")
    p.add_argument("--radius", type=float, default=0.03,
                   help="nearest-robot-point baseline reach, metres (default: %(default)s)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's; 1 is fastest on a busy machine)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = WorldModel.load(args.checkpoint, device=device)
    report = evaluate(model, args.data, max_clips=args.max_clips, num_robot_points=args.robot_points,
                      radius=args.radius, checkpoint=str(args.checkpoint), progress=not args.no_progress)
    out = args.out or args.checkpoint.with_name(args.checkpoint.stem + ".eval.json")
    write_json(out, report.to_dict())
    md = out.with_suffix(".md")
    tmp = md.with_name(f".{md.name}.tmp")
    tmp.write_text(report.to_markdown() + "\n")
    tmp.replace(md)
    print(f"{report.clips} clips, errors in cm (moved = true displacement > 5 mm):")
    print(report.to_text())
    print(f"report: {out}\n        {md}")
    return 0
