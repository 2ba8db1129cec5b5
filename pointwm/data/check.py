"""Full verification of an archive: manifest, every shard's checksum, every clip's schema."""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from pointwm.data.archive import ShardError, iter_shard, read_manifest
from pointwm.data.clip import ClipError
from pointwm.data.sample import load_clip_robot

__all__ = ["CheckReport", "Problem", "check_archive"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One problem: the shard file name, the clip key (None: the whole shard) and why."""

    shard: str
    clip: str | None
    message: str


@dataclass
class CheckReport:
    """What ``check_archive`` found. ``ok`` is True when there is no problem."""

    root: Path
    shards: int = 0
    good_shards: int = 0
    clips: int = 0
    good_clips: int = 0
    problems: list[Problem] = field(default_factory=list)
    robots: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_archive(root: str | os.PathLike, check_robots: bool = True, progress: bool = False) -> CheckReport:
    """Verify every shard of the archive at ``root``.

    Checks: manifest format and schema (``ArchiveError`` if the archive is unusable), each
    shard's presence, size and sha256, that its clip count matches the manifest, every
    clip's schema, dtypes and shapes, duplicate clip keys, and (``check_robots``) that each
    robot name loads with ``kinematics.load_robot`` and has the clip's joints.
    """
    manifest = read_manifest(root)
    report = CheckReport(Path(root), shards=len(manifest.shards))
    seen: dict[str, str] = {}
    robot_ok: dict[tuple, str | None] = {}
    listed = {s.name for s in manifest.shards}
    for extra in sorted(p.name for p in Path(root).glob("*.tar") if p.name not in listed):
        report.problems.append(Problem(extra, None, "shard file is not listed in the manifest (ignored by readers)"))
    for shard in tqdm(manifest.shards, desc="shards", unit="shard", disable=not progress):
        report.clips += shard.clips
        bad_before = len(report.problems)
        count = 0
        undecodable = []

        def bad_clip(key: str, err: ClipError, name=shard.name, sink=undecodable) -> None:
            sink.append(key)
            report.problems.append(Problem(name, key, str(err)))

        try:
            for clip in iter_shard(manifest.path(shard), shard, on_bad_clip=bad_clip):
                count += 1
                if clip.key in seen:
                    report.problems.append(Problem(shard.name, clip.key, f"duplicate clip key (also in {seen[clip.key]})"))
                    continue
                seen[clip.key] = shard.name
                if check_robots:
                    sig = (clip.robot, tuple(clip.joint_names))
                    if sig not in robot_ok:
                        robot_ok[sig] = _robot_problem(clip)
                    if robot_ok[sig] is not None:
                        report.problems.append(Problem(shard.name, clip.key, robot_ok[sig]))
                        continue
                report.robots[clip.robot] += 1
                report.good_clips += 1
        except ShardError as e:
            report.problems.append(Problem(shard.name, None, str(e)))
            continue
        if count + len(undecodable) != shard.clips:
            report.problems.append(Problem(shard.name, None, f"holds {count + len(undecodable)} clips, the manifest says {shard.clips}"))
        if len(report.problems) == bad_before:
            report.good_shards += 1
    return report


def _robot_problem(clip) -> str | None:
    try:
        load_clip_robot(clip)
    except ClipError as e:
        return str(e).replace(f"clip {clip.key!r}: ", "")
    return None
