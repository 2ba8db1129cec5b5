"""Evaluate a world model and the baselines on an archive: per-step l2 / l2_moved / l2_static.

Every evaluation scores three predictors on the same clips (no augmentation): the model,
``zero_flow`` (nothing moves) and ``nearest_robot_point`` (scene points within ``radius``
of the robot at t0 follow their nearest robot point). The report is a JSON-able dict, a
Markdown table and a plain-text table.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from pointwm.data import ArchiveDataset, clip_to_sample
from pointwm.data.sample import robot_by_name
from pointwm.errors import InputError
from pointwm.eval.baselines import nearest_robot_point_flow, zero_flow
from pointwm.eval.metrics import MOVED_THRESHOLD, FlowMetrics
from pointwm.geometry import PointCloud

__all__ = ["PREDICTORS", "EvalReport", "evaluate"]

log = logging.getLogger(__name__)

PREDICTORS = ("model", "zero_flow", "nearest_robot_point")
_METRICS = ("l2", "l2_moved", "l2_static")


@dataclass
class EvalReport:
    """Metrics of each predictor (``PREDICTORS``) over the same clips.

    metrics: predictor name → :class:`FlowMetrics` (errors in metres).
    clips: clips evaluated. skipped: unreadable clips. seconds: wall time.
    """

    checkpoint: str
    data: list[str]
    metrics: dict[str, FlowMetrics]
    clips: int = 0
    skipped: int = 0
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_steps(self) -> int:
        return next(iter(self.metrics.values())).sums.shape[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: per predictor, per-step lists (index 0 = step 1) and means, metres."""
        def clean(v: float) -> float | None:
            return None if math.isnan(v) else v

        preds = {}
        for name, m in self.metrics.items():
            per = m.per_step()
            preds[name] = {"per_step": {k: [clean(v) for v in vs] for k, vs in per.items()},
                           "mean": {k: clean(v) for k, v in m.summary().items()}}
        return {"checkpoint": self.checkpoint, "data": self.data, "clips": self.clips,
                "skipped": self.skipped, "seconds": round(self.seconds, 2), "units": "metres",
                "moved_threshold": MOVED_THRESHOLD, **self.info, "predictors": preds}

    def _rows(self, metric: str, scale: float) -> list[list[str]]:
        per = {n: m.per_step()[metric] for n, m in self.metrics.items()}
        rows = [[str(t + 1)] + [f"{per[n][t] * scale:.2f}" for n in self.metrics] for t in range(self.num_steps)]
        rows.append(["mean"] + [f"{self.metrics[n].summary()[metric] * scale:.2f}" for n in self.metrics])
        return rows

    def to_markdown(self) -> str:
        """One table per metric: step x predictor, centimetres."""
        names = list(self.metrics)
        lines = [f"Evaluation of `{self.checkpoint}` on {self.clips} clips of {', '.join(self.data)} "
                 f"(errors in cm; moved = true displacement > {MOVED_THRESHOLD * 1000:.0f} mm).", ""]
        for metric in _METRICS:
            lines += [f"**{metric}** (cm)", "", "| step | " + " | ".join(names) + " |",
                      "|---:|" + "---:|" * len(names)]
            lines += ["| " + " | ".join(r) + " |" for r in self._rows(metric, 100.0)]
            lines.append("")
        return "\n".join(lines)

    def to_text(self) -> str:
        """A plain table for the terminal: step x (metric, predictor), centimetres."""
        names = list(self.metrics)
        short = {"model": "model", "zero_flow": "zero", "nearest_robot_point": "nearest"}
        head = ["step"] + [f"{m}:{short.get(n, n)}" for m in _METRICS for n in names]
        cols = {m: self._rows(m, 100.0) for m in _METRICS}
        rows = [[cols[_METRICS[0]][i][0]] + [c for m in _METRICS for c in cols[m][i][1:]]
                for i in range(self.num_steps + 1)]
        width = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(head)]
        fmt = "  ".join(f"{{:>{w}}}" for w in width)
        return "\n".join([fmt.format(*head)] + [fmt.format(*r) for r in rows])


def evaluate(
    model,
    data: str | Path | Sequence[str | Path],
    *,
    max_clips: int | None = None,
    num_robot_points: int = 500,
    radius: float = 0.03,
    checkpoint: str = "",
    progress: bool = False,
) -> EvalReport:
    """Score ``model`` (a :class:`~pointwm.model.WorldModel`) and both baselines.

    data: archive folder(s). max_clips: stop after this many clips (None: all).
    num_robot_points: M, robot points from forward kinematics (the model's training value).
    radius: metres, the nearest-robot-point baseline's reach.
    """
    roots = [data] if isinstance(data, str | os.PathLike) else list(data)
    if max_clips is not None and max_clips < 1:
        raise InputError(f"max_clips: expected >= 1, got {max_clips}")
    ds = ArchiveDataset(roots, transform=lambda c: clip_to_sample(c, num_robot_points))
    metrics = {name: FlowMetrics() for name in PREDICTORS}
    total = ds.num_clips if max_clips is None else min(max_clips, ds.num_clips)
    t0 = time.perf_counter()
    n = 0
    device = model.device
    checked: set[str] = set()
    with tqdm(total=total, desc="eval", unit="clip", disable=not progress) as bar:
        for s in ds:
            if n >= total:
                break
            if s.points.shape[0] != model.config.num_steps + 1:
                raise InputError(
                    f"eval data: clip {s.key!r} has T = {s.points.shape[0] - 1} steps, the model predicts "
                    f"{model.config.num_steps}"
                )
            if s.points.shape[1] == 0:
                continue
            if s.robot not in checked:  # robot points drawn unlike training: say so once
                checked.add(s.robot)
                msg = model.check_robot(robot_by_name(s.robot, num_robot_points)) if s.robot else None
                if msg:
                    log.warning("%s", msg)
            xyz = s.points[0]
            scene = PointCloud(xyz.to(device), color=s.colors.to(device), normals=s.normals.to(device))
            pred = model.predict(scene, s.robot_points.to(device), gripper=s.gripper.to(device)).cpu()
            target, valid = s.flow, s.valid[1:]
            metrics["model"].update(pred, target, valid)
            metrics["zero_flow"].update(zero_flow(xyz, s.robot_points), target, valid)
            metrics["nearest_robot_point"].update(nearest_robot_point_flow(xyz, s.robot_points, radius), target, valid)
            n += 1
            bar.update(1)
    if n == 0:
        raise InputError(f"eval data {[str(r) for r in roots]}: no readable clip")
    report = EvalReport(checkpoint=checkpoint, data=[str(r) for r in roots], metrics=metrics, clips=n,
                        skipped=ds.skipped["clips"] + ds.skipped["shards"],
                        seconds=time.perf_counter() - t0,
                        info={"nearest_robot_point_radius": radius, "model_config": model.config.name})
    log.info("evaluated %d clips in %.1f s", n, report.seconds)
    return report
