"""The training loop: AdamW + warmup/cosine, motion-weighted loss, checkpoints, DDP.

``train(cfg, data, out)`` runs one process of a run. Under ``torchrun`` (or any launcher
that sets ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` / ``MASTER_ADDR`` / ``MASTER_PORT``) it
joins the process group (gloo on the CPU, nccl on CUDA) and wraps the model in
``DistributedDataParallel``; every rank takes exactly ``cfg.steps`` steps on its own shard
slice (:mod:`pointwm.train.data`), so uneven shards never deadlock.

Exact resumption: model randomness (drop-path) is reseeded from ``(seed, rank, step)``
before every step and each sample's augmentation from ``(seed, rank, position)``, so a run
resumed from a checkpoint (weights, optimiser, scheduler, data position = step x batch)
repeats the uninterrupted run step for step, bit for bit on the same machine.

Run folder ``OUT``: ``config.json`` (the resolved train config), ``run.json`` (the data
archives in the order given, their clip counts and content digests, and ``--init``), ``metrics.csv``,
``tensorboard/`` (when the ``tensorboard`` package is installed), ``checkpoints/``
(:mod:`pointwm.train.checkpoint`) and ``model.safetensors`` (the final weights).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from pointwm.atomic import write_json
from pointwm.data.archive import read_manifest
from pointwm.data.augment import robot_distance
from pointwm.data.sample import robot_by_name
from pointwm.errors import InputError
from pointwm.eval.metrics import FlowMetrics
from pointwm.geometry import PointCloud
from pointwm.model import CheckpointError, ModelConfig, RobotInput, WorldModel, flow_loss
from pointwm.model.checkpoint import read_checkpoint
from pointwm.train.checkpoint import (
    config_json,
    find_latest,
    list_checkpoints,
    load_state,
    prune_checkpoints,
    save_state,
    weights_path,
)
from pointwm.train.config import TrainConfig
from pointwm.train.data import SampleStream, compute_flow_std

__all__ = ["TrainResult", "lr_factor", "train"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What one process of a run did.

    losses: this rank's loss of every step it ran (index 0 = first step of this call).
    start_step / end_step: steps before and after this call. final: final weights (rank 0
    of a finished run) or None. checkpoints: steps written by this call. model: the
    trained model (unwrapped from DDP, in train mode). seconds: wall time of this call.
    """

    losses: list[float] = field(default_factory=list)
    start_step: int = 0
    end_step: int = 0
    final: Path | None = None
    checkpoints: list[int] = field(default_factory=list)
    seconds: float = 0.0
    model: WorldModel | None = None


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier of ``step`` (0-based): linear warmup over ``warmup`` steps, then a
    cosine from 1 down to ``min_ratio`` at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(max((step - warmup) / max(1, total - warmup), 0.0), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _step_seed(seed: int, rank: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, rank, step, 7]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _identity(x):
    return x


# ------------------------------------------------------------------------- distributed


@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owned: bool = False  # we initialised the process group (and destroy it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _setup_distributed(device: torch.device | None) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if dist.is_available() and dist.is_initialized():
        return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if world <= 1:
        return _Dist()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = (device.type == "cuda") if device is not None else torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    return _Dist(rank, world, local, owned=True)


def _pick_device(device: str | torch.device | None, d: _Dist) -> torch.device:
    if device is not None:
        dev = torch.device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", d.local_rank)
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda", d.local_rank)
    return torch.device("cpu")


# ----------------------------------------------------------------------------- logging


class _Logger:
    """CSV rows (and TensorBoard scalars when available) on rank 0."""

    def __init__(self, out: Path, start_step: int, enabled: bool) -> None:
        self.enabled = enabled
        self.path = out / "metrics.csv"
        self.tb = None
        self.fields: list[str] | None = None
        if not enabled:
            return
        if self.path.is_file():  # resumed: drop rows past the checkpoint, they will be redone
            with open(self.path, newline="") as f:
                rows = list(csv.DictReader(f))
            self.fields = list(rows[0].keys()) if rows else None
            keep = [r for r in rows if int(r["step"]) <= start_step]
            tmp = self.path.with_suffix(".csv.tmp")
            with open(tmp, "w", newline="") as f:
                if self.fields:
                    w = csv.DictWriter(f, self.fields)
                    w.writeheader()
                    w.writerows(keep)
            os.replace(tmp, self.path)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"), purge_step=start_step + 1 if start_step else None)
        except ImportError:
            log.info("tensorboard not installed: logging to %s only", self.path)

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        new = not self.path.is_file() or self.path.stat().st_size == 0
        if self.fields is None:
            self.fields = list(row)
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, self.fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, float | int) and math.isfinite(v):
                    self.tb.add_scalar(f"train/{k}", v, row["step"])
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


# ------------------------------------------------------------------------------- train


def _config_diff(path: Path, expected: ModelConfig) -> tuple[str | None, list[str]]:
    """The checkpoint's model-config name, and the keys in which its config differs from
    ``expected``."""
    config, _ = read_checkpoint(path)
    try:  # fills keys added since the checkpoint was written with their defaults
        config = ModelConfig.from_dict(config, source=f"checkpoint {path}").to_dict()
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    want = expected.to_dict()
    return config.get("name"), sorted(k for k in set(config) | set(want) if config.get(k) != want.get(k))


# a run may start from (``--init``) a checkpoint that differs from its model in these keys
# only, the run's model adding the zero-initialised contact branch to the checkpoint's weights
_INIT_GROWS = {"name", "contact_features"}


def _check_model_config(path: Path, expected: ModelConfig, init: bool = False) -> None:
    """Raise CheckpointError if the checkpoint at ``path`` was made for another model config."""
    name, diff = _config_diff(path, expected)
    if init and diff and set(diff) <= _INIT_GROWS and expected.contact_features:
        return
    if diff:
        raise CheckpointError(
            f"checkpoint {path} is for model config {name!r}, this run uses "
            f"{expected.name!r} (differing keys: {diff}); use the run's own config or another --out"
        )


def _batch_to_device(samples, device: torch.device):
    scenes = [PointCloud(s.points[0].to(device), color=s.colors.to(device), normals=s.normals.to(device))
              for s in samples]
    robots = [RobotInput(s.robot_points.to(device), gripper=s.gripper.to(device)) for s in samples]
    target = torch.cat([s.flow for s in samples], dim=1).to(device)  # (T, ΣN, 3) metres
    valid = torch.cat([s.valid[1:] for s in samples], dim=1).to(device)  # (T, ΣN)
    return scenes, robots, target, valid


def near_robot(scenes, robots, radius: float) -> torch.Tensor:
    """(ΣN,) bool on the scenes' device: the scene points at t0 (batch order) that some robot
    point (``RobotInput.flow`` (T+1, M, 3) m) comes within ``radius`` (m) of, at any step."""
    near = [robot_distance(sc.xyz, rb.flow, radius) < radius for sc, rb in zip(scenes, robots, strict=True)]
    return torch.cat(near).to(scenes[0].xyz.device)


def _load_init(path: Path, config: ModelConfig) -> WorldModel:
    """``config``'s model with the weights of the checkpoint at ``path`` (already checked by
    :func:`_check_model_config`); a contact branch the checkpoint lacks keeps its zero init."""
    source = WorldModel.load(path)
    if source.config == config:
        return source
    model = WorldModel(config)
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected or any(not k.startswith("contact_embed.") for k in missing):
        raise CheckpointError(f"checkpoint {path}: weights do not fit model {config.name!r} "
                              f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    log.info("%s: the contact branch starts at zero (the checkpoint has none)", path)
    return model


def train(
    cfg: TrainConfig,
    data: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    resume: bool = False,
    init: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult:
    """Train (or resume) a run of ``cfg`` on the archive(s) ``data`` into folder ``out``.

    resume: continue from the newest checkpoint in ``out/checkpoints`` (a fresh start, with a
        warning, if there is none). Without it, an ``out`` that already holds checkpoints is
        an error (so a run is never overwritten by accident).
    init: start from these weights (fine-tuning) instead of random ones; their model config
        must equal ``cfg.model`` (or differ only in adding ``contact_features``, whose branch
        then starts at zero), and their ``flow_std`` is kept.
    device: default CUDA (``LOCAL_RANK``) when available, else the CPU.
    stop_after: stop after this many steps of this call without the final checkpoint (as if
        killed; tests of resumption).

    Raises ``CheckpointError`` for a checkpoint of another model config.
    """
    roots = [Path(data)] if isinstance(data, str | os.PathLike) else [Path(d) for d in data]
    manifests = [read_manifest(r) for r in roots]
    out = Path(out)
    d = _setup_distributed(torch.device(device) if device is not None else None)
    try:
        return _train(cfg, manifests, out, d, resume, init, _pick_device(device, d), progress, stop_after)
    finally:
        if d.owned:
            torch.distributed.destroy_process_group()


def _train(cfg, manifests, out, d: _Dist, resume, init, device, progress, stop_after) -> TrainResult:
    t_begin = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ckpt_dir = out / "checkpoints"
    torch.manual_seed(cfg.seed)  # initial weights (DDP then broadcasts rank 0's)
    model = WorldModel(cfg.model)
    start_step, state = 0, None
    latest = find_latest(ckpt_dir)
    if resume and latest is not None:
        _check_model_config(latest.weights, cfg.model)
        state = load_state(latest.state)
        if state.get("world_size", 1) != d.world_size:
            log.warning("resuming a %d-process run with %d processes: the data order changes",
                        state.get("world_size", 1), d.world_size)
        model = WorldModel.load(latest.weights)
        start_step = int(state["step"])
        log.info("resuming %s from step %d (%s)", out, start_step, latest.weights.name)
    else:
        if resume:
            log.warning("--resume: no checkpoint in %s, starting a new run", ckpt_dir)
        elif list_checkpoints(ckpt_dir):
            raise InputError(f"run folder {out} already holds checkpoints; pass --resume or choose another --out")
        if init is not None:
            _check_model_config(Path(init), cfg.model, init=True)
            model = _load_init(Path(init), cfg.model)
            model.trained_robots = {}  # this run's robot points, recorded as batches arrive
            log.info("initialised from %s (flow_std %s)", init, model.flow_std.tolist())
        elif cfg.norm_clips > 0:
            model.set_normalization(compute_flow_std(manifests, cfg.norm_clips, cfg.model.num_steps,
                                                     cfg.loss.moved_threshold))
    model.to(device).train()
    if d.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", cfg.to_dict())
        if state is None:  # what this run started from, in the order given (it sets the data order)
            write_json(out / "run.json", {
                "data": [{"root": str(m.root), "clips": m.num_clips, "shards_sha256": m.content_sha256}
                         for m in manifests],
                "init": None if init is None else str(init)})

    o = cfg.optim
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, betas=o.betas, weight_decay=o.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, o.warmup_steps, cfg.steps, o.min_lr_ratio))
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
    net: torch.nn.Module = model
    if d.enabled:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    stream = SampleStream(
        manifests, rank=d.rank, world_size=d.world_size, augment_cfg=cfg.augment, seed=cfg.seed,
        shuffle=cfg.shuffle, num_robot_points=cfg.num_robot_points, start=start_step * cfg.batch_size,
    )
    loader = DataLoader(stream, batch_size=None, num_workers=cfg.num_workers, collate_fn=_identity,
                        generator=torch.Generator().manual_seed(cfg.seed),
                        prefetch_factor=2 * cfg.batch_size if cfg.num_workers else None)
    items = iter(loader)
    logger = _Logger(out, start_step, enabled=d.rank == 0)
    use_bf16 = cfg.bf16 and device.type == "cuda"
    lc = cfg.loss
    result = TrainResult(start_step=start_step, end_step=start_step)
    end = cfg.steps if stop_after is None else min(cfg.steps, start_step + stop_after)
    window = FlowMetrics(lc.moved_threshold)
    win_loss, win_gn, win_wait, win_time, win_steps, last_samples = 0.0, 0.0, 0.0, 0.0, 0, None

    bar = tqdm(total=cfg.steps, initial=start_step, disable=not progress or d.rank != 0,
               desc=f"train {cfg.name}", unit="step", dynamic_ncols=True, mininterval=2.0)
    try:
        for step in range(start_step, end):
            t0 = time.perf_counter()
            got = [next(items) for _ in range(cfg.batch_size)]
            samples = [s for _, s in got if s is not None and s.points.shape[1] > 0]
            t_data = time.perf_counter()
            if not samples:  # every clip of the batch was bad: repeat the last batch (DDP needs a step)
                if last_samples is None:
                    raise InputError(f"training data: positions {[p for p, _ in got]} hold no readable clip")
                log.warning("step %d: no readable clip in the batch, repeating the previous batch", step)
                samples = last_samples
            last_samples = samples
            for s in samples:  # the robot points the weights are trained with go into checkpoints
                if s.robot and s.robot not in model.trained_robots:
                    model.trained_robots[s.robot] = robot_by_name(s.robot, cfg.num_robot_points).point_sampling
            torch.manual_seed(_step_seed(cfg.seed, d.rank, step))
            scenes, robots, target, valid = _batch_to_device(samples, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                pred_out = net(scenes, robots)
            pred = pred_out.flow.float().transpose(0, 1)  # (T, ΣN, 3) normalised
            log_var = None if lc.fixed_log_var is not None else pred_out.log_var.float().transpose(0, 1)
            near = near_robot(scenes, robots, lc.near_robot_radius) if lc.near_robot_weight > 0 else None
            loss = flow_loss(pred, log_var, target, model.flow_std, fixed_log_var=lc.fixed_log_var,
                             max_displacement=lc.max_displacement, huber_delta=lc.huber_delta,
                             moved_threshold=lc.moved_threshold, min_weight=lc.min_weight, mask=valid,
                             near=near, near_weight=lc.near_robot_weight)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"step {step}: non-finite loss {loss.item()} (clips {[s.key for s in samples]})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            params = [p for p in model.parameters() if p.grad is not None]
            gn = torch.nn.utils.clip_grad_norm_(params, o.grad_clip if o.grad_clip > 0 else float("inf"))
            opt.step()
            sched.step()
            with torch.no_grad():
                window.update(pred.detach() * model.flow_std[:, None, None], target, valid)
            lv = float(loss.detach())
            result.losses.append(lv)
            result.end_step = step + 1
            t_end = time.perf_counter()
            win_loss += lv
            win_gn += float(gn)
            win_wait += t_data - t0
            win_time += t_end - t0
            win_steps += 1
            clips_s = d.world_size * cfg.batch_size * win_steps / max(win_time, 1e-9)
            bar.update(1)
            bar.set_postfix(loss=f"{lv:.4f}", clips_s=f"{clips_s:.2f}", refresh=False)
            done = step + 1
            if done % cfg.log_every == 0 or done == end:
                row = _log_row(done, opt, window, win_loss / win_steps, win_gn / win_steps, clips_s,
                               win_wait / max(win_time, 1e-9), d)
                logger.write(row)
                log.info("step %d/%d loss %.4f l2_moved %.4f m clips/s %.2f data wait %.0f%%", done, cfg.steps,
                         row["loss"], row["l2_moved"], clips_s, 100 * row["data_wait"])
                window = FlowMetrics(lc.moved_threshold)
                win_loss = win_gn = win_wait = win_time = 0.0
                win_steps = 0
            if done % cfg.checkpoint_every == 0 or done == cfg.steps:
                _save(model, opt, sched, done, cfg, d, ckpt_dir)
                result.checkpoints.append(done)
        if result.end_step == cfg.steps and d.rank == 0:
            result.final = model.save(out / "model.safetensors")
    finally:
        bar.close()
        logger.close()
        del items
    if d.enabled:
        dist.barrier()
    result.seconds = time.perf_counter() - t_begin
    result.model = model
    return result


def _log_row(step, opt, window: FlowMetrics, loss, grad_norm, clips_s, data_wait, d: _Dist) -> dict[str, Any]:
    if d.enabled:  # average over ranks: losses, metric sums and counts

        t = torch.tensor([loss, grad_norm, data_wait], dtype=torch.float64)
        dist.all_reduce(t)
        loss, grad_norm, data_wait = (t / d.world_size).tolist()
        if window.sums is not None:
            dist.all_reduce(window.sums)
            dist.all_reduce(window.counts)
    row: dict[str, Any] = {"step": step, "lr": opt.param_groups[0]["lr"], "loss": loss, "grad_norm": grad_norm}
    if window.sums is not None:
        row.update(window.summary())
        per = window.per_step()
        for t, v in enumerate(per["l2_moved"], 1):
            row[f"l2_moved_t{t}"] = v
    row["clips_per_s"] = clips_s
    row["data_wait"] = data_wait
    return row


def _save(model: WorldModel, opt, sched, step: int, cfg: TrainConfig, d: _Dist, ckpt_dir: Path) -> None:
    """Rank 0 writes weights then state (the commit marker); all ranks wait for it."""
    if d.rank == 0:
        model.save(weights_path(ckpt_dir, step))
        rng: dict[str, Tensor | list[Tensor]] = {"torch": torch.get_rng_state()}
        save_state(ckpt_dir / f"step_{step:08d}.state.pt", {
            "step": step,
            "data_position": step * cfg.batch_size,
            "world_size": d.world_size,
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "rng": rng,
            "train_config": config_json(cfg.to_dict()),
        })
        prune_checkpoints(ckpt_dir, cfg.keep_checkpoints)
        log.info("checkpoint at step %d in %s", step, ckpt_dir)
    if d.enabled:
        dist.barrier()
