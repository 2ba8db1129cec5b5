"""Training recipes: a chain of training stages and the archives they read, replayable.

A recipe file (``configs/train/recipe.yaml`` is the shipped checkpoint's) holds two keys::

    archives:                  # NAME -> `pointwm generate DATA_DIR/NAME --clips C --seed S ARGS`
      sim-probe: {clips: 1500, seed: 3, args: --push-prob 0.9 --probe-prob 0.7}
    stages:                    # in the order they run; each writes OUT/NAME/model.safetensors
      - {name: tiny_sim_mix, config: tiny_sim_mix.yaml, init: tiny_sim, data: [sim-probe], steps: 3200}

``config`` is a train config relative to the recipe's folder (or absolute); ``init`` names an
earlier stage whose weights the stage starts from (``--init``), or is null; ``data`` lists
archive names in ``--data`` order; ``steps`` is passed as ``--steps`` where it differs from
the config's. :func:`load_recipe` checks all of it and raises one ``ValueError`` naming the
file and the field. :func:`plan_steps` turns a recipe into the ``pointwm`` command lines
still to run, skipping complete archives and finished stages; ``pointwm train-recipe`` prints
or runs them. Whether each archive's ``args`` are valid ``pointwm generate`` options is the
command's check (``pointwm.commands.train_recipe.check_generate_args``): the option parser
lives there.
"""

from __future__ import annotations

import logging
import math
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from pointwm.data.archive import read_manifest
from pointwm.errors import ConfigError
from pointwm.train.checkpoint import list_checkpoints
from pointwm.train.config import load_train_config

__all__ = ["ArchiveSpec", "Recipe", "StageSpec", "Step", "archive_complete", "load_recipe", "plan_steps"]

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # a folder name: no separators, no leading dot
_ARCHIVE_KEYS = ("clips", "seed", "args")
_STAGE_KEYS = ("name", "config", "init", "data", "steps")


@dataclass(frozen=True)
class ArchiveSpec:
    """A simulated archive: ``pointwm generate OUT --clips clips --seed seed *args``.

    args: further ``pointwm generate`` options, as tokens (e.g. ``("--push-prob", "0.9")``).
    """

    name: str
    clips: int
    seed: int
    args: tuple[str, ...] = ()

    def generate_argv(self, root: Path, workers: int | None = None) -> tuple[str, ...]:
        """The ``pointwm`` arguments that make (or resume) this archive in folder ``root``."""
        extra = ("--workers", str(workers)) if workers is not None else ()
        return ("generate", str(root), "--clips", str(self.clips), "--seed", str(self.seed), *self.args, *extra)


@dataclass(frozen=True)
class StageSpec:
    """A training run: ``config`` (a train config file) on ``data`` (archive names, in
    ``--data`` order) for ``steps`` steps, from the weights of stage ``init`` (None: random).
    config_steps: the config's own ``steps``; ``--steps`` is passed only where they differ."""

    name: str
    config: Path
    init: str | None
    data: tuple[str, ...]
    steps: int
    config_steps: int

    def train_argv(self, out: Path, data_dir: Path, resume: bool = False) -> tuple[str, ...]:
        """The ``pointwm`` arguments of this stage's run in ``out / name``."""
        argv = ["train", "--config", str(self.config), "--data", *(str(data_dir / a) for a in self.data),
                "--out", str(out / self.name)]
        if self.init is not None:
            argv += ["--init", str(out / self.init / "model.safetensors")]
        if self.steps != self.config_steps:
            argv += ["--steps", str(self.steps)]
        if resume:
            argv.append("--resume")
        return tuple(argv)


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe file: its archives and its stages in run order."""

    path: Path
    archives: tuple[ArchiveSpec, ...]
    stages: tuple[StageSpec, ...]

    def archive(self, name: str) -> ArchiveSpec:
        return next(a for a in self.archives if a.name == name)

    def stage(self, name: str) -> StageSpec:
        for s in self.stages:
            if s.name == name:
                return s
        raise ConfigError(f"recipe {self.path}: no stage {name!r} (stages: {[s.name for s in self.stages]})")


@dataclass(frozen=True)
class Step:
    """One command still to run: ``pointwm *argv``, which makes ``output`` (an archive folder
    or a stage's ``model.safetensors``)."""

    kind: Literal["generate", "train"]
    name: str
    argv: tuple[str, ...]
    output: Path

    @property
    def command(self) -> str:
        """The shell command line, as ``--dry-run`` prints it."""
        return "pointwm " + shlex.join(self.argv)


# --------------------------------------------------------------------------- loading
def load_recipe(path: str | Path) -> Recipe:
    """Read and check a recipe file.

    Raises ``ValueError`` naming the file and the field for: unknown or missing keys, wrong
    types, duplicate or unsafe names, a config file that is missing or invalid, an archive no
    stage reads or a stage that reads an unknown one, an ``init`` naming an unknown stage,
    a cycle of ``init`` links, or a stage listed before the stage it starts from.
    """
    path = Path(path)
    where = f"recipe {path}"
    if not path.is_file():
        raise ConfigError(f"{where}: no such file")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{where}: unreadable YAML: {e}") from None
    _check_keys(data, ("archives", "stages"), where, "the top level")
    archives = _load_archives(data["archives"], where)
    stages = _load_stages(data["stages"], where, path.parent, {a.name for a in archives})
    used = {a for s in stages for a in s.data}
    unused = [a.name for a in archives if a.name not in used]
    if unused:
        raise ConfigError(f"{where}: archives {unused}: no stage reads them (remove them or add them to a stage's data)")
    _check_init_order(stages, where)
    return Recipe(path, archives, stages)


def _check_keys(d: object, keys: Sequence[str], where: str, what: str, optional: Iterable[str] = ()) -> None:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: {what}: expected a mapping with keys {list(keys)}, got {type(d).__name__}")
    unknown = sorted(set(map(str, d)) - set(keys))
    if unknown:
        raise ConfigError(f"{where}: {what}: unknown keys {unknown} (expected {list(keys)})")
    missing = [k for k in keys if k not in d and k not in optional]
    if missing:
        raise ConfigError(f"{where}: {what}: missing keys {missing}")


def _int(value: object, where: str, field: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(f"{where}: {field}: expected an integer >= {lo}, got {value!r}")
    return value


def _name(value: object, where: str, field: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ConfigError(f"{where}: {field}: expected a folder name (letters, digits, _ . -), got {value!r}")
    return value


def _load_archives(data: object, where: str) -> tuple[ArchiveSpec, ...]:
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{where}: archives: expected a mapping NAME -> {{clips, seed, args}}, got {data!r}")
    out = []
    for name, spec in data.items():
        field = f"archives.{name}"
        _name(name, where, f"{field} (its name)")
        _check_keys(spec, _ARCHIVE_KEYS, where, field, optional=("args",))
        args = spec.get("args") or ""
        if not isinstance(args, str):
            raise ConfigError(f"{where}: {field}.args: expected a string of `pointwm generate` options, got {args!r}")
        try:
            tokens = tuple(shlex.split(args))
        except ValueError as e:
            raise ConfigError(f"{where}: {field}.args: {e}: {args!r}") from None
        out.append(ArchiveSpec(name, _int(spec["clips"], where, f"{field}.clips", 1),
                               _int(spec["seed"], where, f"{field}.seed", 0), tokens))
    return tuple(out)


def _load_stages(data: object, where: str, base: Path, archives: set[str]) -> tuple[StageSpec, ...]:
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{where}: stages: expected a non-empty list of stages, got {data!r}")
    out: list[StageSpec] = []
    for i, spec in enumerate(data):
        field = f"stages[{i}]"
        _check_keys(spec, _STAGE_KEYS, where, field)
        name = _name(spec["name"], where, f"{field}.name")
        field = f"stages[{i}] ({name})"
        if any(s.name == name for s in out):
            raise ConfigError(f"{where}: {field}.name: a stage of that name is listed twice")
        if not isinstance(spec["config"], str):
            raise ConfigError(f"{where}: {field}.config: expected a path, got {spec['config']!r}")
        config = Path(spec["config"])
        config = config if config.is_absolute() else base / config
        if not config.is_file():
            raise ConfigError(f"{where}: {field}.config: {config}: no such file")
        try:
            config_steps = load_train_config(config).steps
        except (ValueError, TypeError, OSError) as e:
            raise ConfigError(f"{where}: {field}.config: {e}") from None
        init = spec["init"]
        if init is not None and not isinstance(init, str):
            raise ConfigError(f"{where}: {field}.init: expected a stage name or null, got {init!r}")
        names = spec["data"]
        if not isinstance(names, list) or not names or not all(isinstance(a, str) for a in names):
            raise ConfigError(f"{where}: {field}.data: expected a non-empty list of archive names, got {names!r}")
        unknown = [a for a in names if a not in archives]
        if unknown:
            raise ConfigError(f"{where}: {field}.data: unknown archives {unknown} (archives: {sorted(archives)})")
        out.append(StageSpec(name, config, init, tuple(names), _int(spec["steps"], where, f"{field}.steps", 1),
                             config_steps))
    return tuple(out)


def _check_init_order(stages: Sequence[StageSpec], where: str) -> None:
    """Every ``init`` names a known stage, the links form no cycle, and each stage comes after
    the stage it starts from."""
    index = {s.name: i for i, s in enumerate(stages)}
    for i, s in enumerate(stages):
        if s.init is not None and s.init not in index:
            raise ConfigError(f"{where}: stages[{i}] ({s.name}).init: unknown stage {s.init!r} "
                             f"(stages: {list(index)})")
    for i, s in enumerate(stages):
        chain = [s.name]
        nxt = s.init
        while nxt is not None:
            if nxt in chain:
                cycle = " -> ".join(chain[chain.index(nxt):] + [nxt])
                raise ConfigError(f"{where}: stages[{i}] ({s.name}).init: a cycle of init links: {cycle}")
            chain.append(nxt)
            nxt = stages[index[nxt]].init
        if s.init is not None and index[s.init] > i:
            raise ConfigError(f"{where}: stages[{i}] ({s.name}).init: stage {s.init!r} is listed after it; "
                             "list the stages in the order they run")


# --------------------------------------------------------------------------- planning
def archive_complete(root: Path, spec: ArchiveSpec) -> bool:
    """Whether ``root`` holds all of ``spec``'s clips: a manifest whose shards cover clips
    0..clips-1 (as ``generate_archive`` resumes: each shard present, its size as recorded, its
    span full). A shard whose every clip failed is never written, so such an archive stays
    incomplete and ``generate`` retries it.

    Raises ``ValueError`` when ``root`` holds another archive (another seed, not generated).
    """
    if not (root / "manifest.json").is_file():
        return False
    m = read_manifest(root)
    seed, per_shard = m.config.get("seed"), m.config.get("clips_per_shard")
    if not isinstance(per_shard, int) or per_shard < 1:
        raise ConfigError(f"archive {root}: not made by `pointwm generate` (no clips_per_shard in its manifest); "
                         f"recipe archive {spec.name!r} needs its own folder")
    if seed != spec.seed:
        raise ConfigError(f"archive {root}: holds seed {seed}, recipe archive {spec.name!r} is seed {spec.seed}; "
                         "use another --data-dir or remove it")
    shards = {s.index: s for s in m.shards}
    for i in range(math.ceil(spec.clips / per_shard)):
        span = min((i + 1) * per_shard, spec.clips) - i * per_shard
        s = shards.get(i)
        p = root / s.name if s is not None else None
        if s is None or s.span != span or not p.is_file() or p.stat().st_size != s.bytes:
            return False
    return True


def plan_steps(
    recipe: Recipe,
    out: str | Path,
    data_dir: str | Path | None = None,
    stages: Sequence[str] | None = None,
    workers: int | None = None,
) -> list[Step]:
    """The commands still to run, in order, to make the ``stages`` named (default: all).

    A stage is done when ``out/NAME/model.safetensors`` exists; otherwise its run is
    preceded by the stage it starts from (unless done) and by ``generate`` for each archive
    it reads that is not complete in ``data_dir/ARCHIVE`` (default ``out/data``), each
    archive once, just before the first stage that reads it. A stage whose run folder
    holds checkpoints continues with ``--resume``. workers: ``generate --workers``.
    """
    out = Path(out)
    data_dir = Path(data_dir) if data_dir is not None else out / "data"
    for s in recipe.stages:
        if out / s.name == data_dir:
            raise ConfigError(f"recipe {recipe.path}: stage {s.name!r}'s run folder {out / s.name} is the data "
                             "folder; choose another --data-dir")
    targets = [recipe.stage(n).name for n in stages] if stages else [s.name for s in recipe.stages]

    wanted: set[str] = set()  # stages to train: the targets and the unfinished stages they start from
    for name in targets:
        while name is not None and name not in wanted:
            if (out / name / "model.safetensors").is_file():
                log.info("skip stage %s: %s exists", name, out / name / "model.safetensors")
                break
            wanted.add(name)
            name = recipe.stage(name).init

    steps: list[Step] = []
    seen: set[str] = set()
    for s in recipe.stages:  # the recipe's order, which has each stage after the one it starts from
        if s.name not in wanted:
            continue
        for a in s.data:
            if a in seen:
                continue
            seen.add(a)
            root = data_dir / a
            if archive_complete(root, recipe.archive(a)):
                log.info("skip archive %s: complete in %s", a, root)
            else:
                steps.append(Step("generate", a, recipe.archive(a).generate_argv(root, workers), root))
        resume = bool(list_checkpoints(out / s.name / "checkpoints"))
        steps.append(Step("train", s.name, s.train_argv(out, data_dir, resume), out / s.name / "model.safetensors"))
    return steps
