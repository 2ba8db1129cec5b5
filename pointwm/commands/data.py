"""``pointwm data``: inspect and verify clip archives, convert PointWorld H5 files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pointwm.data.archive import read_manifest, write_archive
from pointwm.data.check import check_archive
from pointwm.data.pointworld_h5 import find_h5_files, read_pointworld_h5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="verify, describe and convert clip archives",
        description="Work with pointwm clip archives (docs/archive.md).",
    )
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    c = dsub.add_parser(
        "check",
        help="verify checksums, schema and shapes of every clip; exit 1 if anything is bad",
        description="Read every shard of ARCHIVE, verify its sha256 against the manifest, "
        "decode every clip and check its schema, dtypes, shapes and robot. Bad shards and "
        "clips are listed; the exit status is 1 when there is any.",
    )
    c.add_argument("archive", type=Path, help="archive directory (with manifest.json)")
    c.add_argument("--no-robots", action="store_true", help="do not load robots to check joint names")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=run_check)

    i = dsub.add_parser("info", help="summarise an archive from its manifest (fast, no verification)")
    i.add_argument("archive", type=Path, help="archive directory (with manifest.json)")
    i.set_defaults(func=run_info)

    h = dsub.add_parser(
        "convert-h5",
        help="convert PointWorld H5 episode files into a pointwm archive",
        description="Read PointWorld's released H5 layout (one file per episode, a group per "
        "clip, camera_* subgroups) and write a pointwm archive.",
    )
    h.add_argument("inputs", type=Path, nargs="+", help="H5 files or directories of them")
    h.add_argument("--out", type=Path, required=True, help="output archive directory")
    h.add_argument("--robot", default="panda", help="robot name of the clips (default: %(default)s)")
    h.add_argument("--clips-per-shard", type=int, default=64, help="default: %(default)s")
    h.set_defaults(func=run_convert)


def run_check(args: argparse.Namespace) -> int:
    report = check_archive(args.archive, check_robots=not args.no_robots, progress=not args.json)
    if args.json:
        print(json.dumps({
            "archive": str(report.root), "ok": report.ok, "shards": report.shards,
            "good_shards": report.good_shards, "clips": report.clips, "good_clips": report.good_clips,
            "problems": [vars(p) for p in report.problems],
        }, indent=1))
    else:
        for p in report.problems:
            where = p.shard + (f" clip {p.clip}" if p.clip else "")
            print(f"BAD  {where}: {p.message}")
        print(f"{report.good_shards}/{report.shards} shards good, {report.good_clips}/{report.clips} clips good"
              + (f"; robots: {dict(report.robots)}" if report.robots else ""))
        print("OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)")
    return 0 if report.ok else 1


def run_info(args: argparse.Namespace) -> int:
    m = read_manifest(args.archive)
    size = sum(s.bytes for s in m.shards)
    print(f"archive:  {m.root}\nschema:   {m.schema}\ncreated:  {m.created_by}")
    print(f"shards:   {len(m.shards)}\nclips:    {m.num_clips}\nsize:     {size / 1e6:.1f} MB")
    if m.config:
        print("config:   " + json.dumps(dict(m.config), sort_keys=True))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    files = find_h5_files(args.inputs)

    def clips():
        for f in files:
            yield from read_pointworld_h5(f, robot=args.robot)

    m = write_archive(args.out, clips(), args.clips_per_shard,
                      config={"source": "pointworld-h5", "robot": args.robot})
    print(f"{m.num_clips} clips from {len(files)} files in {len(m.shards)} shards: {m.root}")
    return 0
