"""The ``pointwm`` console command. Each subcommand lives in ``pointwm/commands/<name>.py``
with ``register(subparsers)``; add its module name to ``COMMANDS`` to expose it.

Errors: a :class:`pointwm.errors.PointwmError` (bad input, a bad setting) or an ``OSError``
(a missing or unreadable file) is printed as one line naming the input, exit status 2;
``-v`` shows its traceback. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pointwm import __version__
from pointwm.errors import PointwmError

COMMANDS = ["demo", "capture", "cloud", "robot", "generate", "data", "model_info", "viz", "train", "train_recipe", "eval", "plan", "eval_plan"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointwm",
        description="3D point-flow world model for robot manipulation.",
    )
    parser.add_argument("--version", action="version", version=f"pointwm {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"pointwm.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (PointwmError, OSError) as e:
        # Domain errors name their input: one line, not a traceback (anything else, such as
        # a TypeError from a bug, keeps its traceback).
        if args.verbose:
            raise
        print(f"pointwm {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pointwm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
