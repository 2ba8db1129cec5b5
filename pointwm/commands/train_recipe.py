"""``pointwm train-recipe``: replay a training recipe (``configs/train/recipe.yaml``): generate
the archives it names and train its stages in order, each from the previous one's weights.

``--dry-run`` prints the ``pointwm generate`` / ``pointwm train`` command lines; a real run
passes the same argument lists to :func:`pointwm.cli.main`, one after the other, in this
process. Finished work is skipped, so rerunning after an interruption continues.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pointwm.cli import main
from pointwm.commands import generate
from pointwm.data.archive import read_manifest
from pointwm.data.sim import archive_config
from pointwm.errors import CLIError
from pointwm.paths import CONFIGS
from pointwm.train.recipe import load_recipe, plan_steps

DEFAULT_RECIPE = CONFIGS / "train" / "recipe.yaml"
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-recipe",
        help="replay a training recipe: generate its archives, train its stages in order",
        description="Replay a chain of training stages (configs/train/recipe.yaml: how the shipped "
        "checkpoint was made). Each archive is made with `pointwm generate DATA_DIR/NAME ...`, each "
        "stage with `pointwm train ... --out OUT/NAME --init OUT/PREVIOUS/model.safetensors`. "
        "Complete archives and stages whose model.safetensors exists are skipped; a stage whose run "
        "folder has checkpoints continues with --resume. Interrupt at any time and rerun.",
    )
    p.add_argument("recipe", type=Path, nargs="?", default=DEFAULT_RECIPE,
                   help="recipe YAML (default: the shipped checkpoint's, configs/train/recipe.yaml)")
    p.add_argument("--out", type=Path, default=Path("runs/recipe"),
                   help="folder of the stages' run folders (default: %(default)s)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder of the archives, e.g. data to reuse data/sim-train... (default: OUT/data)")
    p.add_argument("--stage", nargs="+", default=None, metavar="NAME",
                   help="make only these stages (and the unfinished stages they start from)")
    p.add_argument("--dry-run", action="store_true", help="print the commands still to run, run nothing")
    p.add_argument("--workers", type=int, default=None,
                   help="processes for `pointwm generate` (default: generate's; the clips are the same "
                   "for any count)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers: expected >= 1, got {args.workers}")
    recipe = load_recipe(args.recipe)
    data_dir = args.data_dir if args.data_dir is not None else args.out / "data"
    check_existing_archives(recipe, data_dir, check_generate_args(recipe))
    steps = plan_steps(recipe, args.out, data_dir=data_dir, stages=args.stage, workers=args.workers)
    if args.dry_run or not steps:
        for step in steps:
            print(step.command)
        if not steps:
            print(f"nothing to do: every stage asked for is trained in {args.out}")
        return 0
    for i, step in enumerate(steps, 1):
        print(f"[{i}/{len(steps)}] {step.command}", flush=True)
        rc = main(list(step.argv))
        if rc != 0:
            if rc == 130:
                raise KeyboardInterrupt
            raise CLIError(f"{step.kind} {step.name} failed (exit status {rc}); rerun to continue")
    print(f"done: {steps[-1].output}")
    return 0


class _ArgError(Exception):
    pass


class _RaisingParser(argparse.ArgumentParser):
    """An option parser that raises instead of printing usage and exiting."""

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        raise _ArgError(message)


_OWNED = object()  # the options a recipe's `args` may not set (the recipe or train-recipe sets them)


def check_generate_args(recipe) -> dict[str, dict]:
    """Check every archive's ``args`` against ``pointwm generate``'s own option parser.

    Returns, per archive name, the config its manifest will record (``archive_config``).
    Raises ``ValueError`` naming the recipe file and the archive for an unknown option, a bad
    value, or an option the recipe sets elsewhere (``--clips``, ``--seed``: the archive's
    fields; ``--workers``, ``--no-progress``: ``train-recipe``'s).
    """
    sub = _RaisingParser(prog="pointwm").add_subparsers(parser_class=_RaisingParser)
    generate.register(sub)
    parser = sub.choices["generate"]
    parser.set_defaults(clips=_OWNED, seed=_OWNED, workers=_OWNED, no_progress=_OWNED)
    configs = {}
    for a in recipe.archives:
        field = f"recipe {recipe.path}: archives.{a.name}.args"
        try:
            ns = parser.parse_args(["OUT", *a.args])
        except _ArgError as e:
            raise CLIError(f"{field}: pointwm generate: {e}") from None
        owned = [k for k in ("clips", "seed", "workers", "no_progress") if getattr(ns, k) is not _OWNED]
        if owned:
            raise CLIError(f"{field}: sets {['--' + k.replace('_', '-') for k in owned]}; give clips and seed "
                             "as the archive's fields and the worker count to train-recipe")
        try:
            cfg = generate.sim_config(ns)
        except (ValueError, TypeError) as e:
            raise CLIError(f"{field}: {e}") from None
        configs[a.name] = json.loads(json.dumps(archive_config(a.seed, cfg, ns.clips_per_shard)))
    return configs


def check_existing_archives(recipe, data_dir: Path, configs: dict[str, dict]) -> None:
    """An archive folder that already exists must hold what the recipe's command makes
    (``configs``, from :func:`check_generate_args`), or a complete one would be trained on as
    it is. Another generator version alone gets a warning (it is what the recipe's stages
    read when they ran: see the recipe's notes); any other difference is a ``ValueError``."""
    for a in recipe.archives:
        root = data_dir / a.name
        if not (root / "manifest.json").is_file():
            continue
        have, want = dict(read_manifest(root).config), configs[a.name]
        diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        if diff == ["version"]:
            log.warning("archive %s was made by generator version %s; this pointwm's generate makes version %s "
                        "(used as it is, but it cannot be extended)", root, have.get("version"), want["version"])
        elif diff:
            detail = ", ".join(f"{k}: {have.get(k)!r} -> {want.get(k)!r}" for k in diff)
            raise CLIError(f"archive {root} was not made by recipe {recipe.path}'s command for {a.name!r} "
                             f"({detail}); use another --data-dir or remove it")
