"""Archive format: round trip, checksums, resumable writer, bad shards and bad clips."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile

import numpy as np
import pytest
from data_helpers import make_clip, run_cli
from torch.utils.data import DataLoader

from pointwm.data.archive import (
    ArchiveError,
    ArchiveWriter,
    ShardError,
    encode_clip,
    iter_shard,
    read_manifest,
    write_archive,
)
from pointwm.data.check import check_archive
from pointwm.data.clip import ClipError
from pointwm.data.dataset import ArchiveDataset
from pointwm.data.sample import clip_to_sample


def _assert_same(a, b):
    assert a.key == b.key and a.robot == b.robot and a.joint_names == b.joint_names
    for f in ("points", "colors", "normals", "valid", "visible", "point_camera", "segment", "q", "gripper"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    assert len(a.cameras) == len(b.cameras)
    for ca, cb in zip(a.cameras, b.cameras, strict=True):
        assert ca.name == cb.name
        np.testing.assert_array_equal(ca.rgb, cb.rgb)
        np.testing.assert_allclose(ca.depth, cb.depth, atol=0.0006)  # stored in mm
        np.testing.assert_array_equal(ca.K, cb.K)
        np.testing.assert_array_equal(ca.T_world_cam, cb.T_world_cam)
        np.testing.assert_array_equal(ca.segmentation, cb.segmentation)
    assert a.dt == b.dt and dict(a.provenance) == dict(b.provenance)


def test_round_trip(small_archive):
    manifest, clips = small_archive
    assert [s.clips for s in manifest.shards] == [2, 2, 1]
    got = list(ArchiveDataset(manifest.root))
    assert [c.key for c in got] == [c.key for c in clips]
    for a, b in zip(got, clips, strict=True):
        _assert_same(a, b)


def test_manifest_checksums(small_archive):
    manifest, _ = small_archive
    m = read_manifest(manifest.root)
    assert m.schema == 1 and m.num_clips == 5
    for s in m.shards:
        data = (m.root / s.name).read_bytes()
        assert len(data) == s.bytes and hashlib.sha256(data).hexdigest() == s.sha256
    raw = json.loads((m.root / "manifest.json").read_text())
    assert raw["format"] == "pointwm-archive" and raw["config"] == {"test": True}


def test_shards_split_across_ranks_and_workers(small_archive):
    manifest, clips = small_archive
    ds = ArchiveDataset(manifest.root, shuffle=True, seed=3)
    parts = [ds.shards_for(r, 2, w, 2) for r in range(2) for w in range(2)]
    names = [s.name for part in parts for _, s in part]
    assert sorted(names) == sorted(s.name for s in manifest.shards)
    # Through a DataLoader with 2 worker processes every clip arrives exactly once.
    loader = DataLoader(ArchiveDataset(manifest.root), batch_size=None, num_workers=2)
    assert sorted(c.key for c in loader) == sorted(c.key for c in clips)
    # Two DDP ranks see disjoint clips that together are all of them.
    keys = [c.key for r in range(2) for c in ArchiveDataset(manifest.root, rank=r, world_size=2)]
    assert sorted(keys) == sorted(c.key for c in clips)


def test_truncated_shard_is_reported_and_skipped(small_archive, caplog, capsys):
    manifest, clips = small_archive
    bad = manifest.root / manifest.shards[1].name
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="truncated"):
        list(iter_shard(bad, manifest.shards[1]))
    ds = ArchiveDataset(manifest.root)
    with caplog.at_level(logging.ERROR):
        keys = [c.key for c in ds]
    assert keys == ["c0", "c1", "c4"]
    assert ds.skipped["shards"] == 1 and "skipping shard" in caplog.text
    report = check_archive(manifest.root)
    assert not report.ok and report.good_shards == 2
    assert [p.shard for p in report.problems] == [manifest.shards[1].name]
    assert run_cli(["data", "check", str(manifest.root)]) == 1
    out = capsys.readouterr().out
    assert "BAD" in out and manifest.shards[1].name in out and "FAILED" in out


def test_corrupt_byte_same_size_is_caught(small_archive):
    manifest, _ = small_archive
    bad = manifest.root / manifest.shards[0].name
    data = bytearray(bad.read_bytes())
    data[700] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="sha256"):
        list(iter_shard(bad, manifest.shards[0]))
    assert [c.key for c in ArchiveDataset(manifest.root)] == ["c2", "c3", "c4"]


def _write_raw_shard(root, clips_members):
    """A shard from raw member dicts (to build malformed clips), recorded in the manifest."""
    writer = ArchiveWriter(root)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for key, members in clips_members:
            for name, data in members.items():
                info = tarfile.TarInfo(f"{key}.{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    from pointwm.atomic import write_bytes
    from pointwm.data.archive import ShardInfo, shard_name

    info = ShardInfo(shard_name(0), 0, len(clips_members), len(data), hashlib.sha256(data).hexdigest())
    write_bytes(root / info.name, data)
    writer._shards[0] = info
    writer._write_manifest()


def _npy(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_missing_field_and_bad_shapes_are_reported(tmp_path, caplog, capsys):
    good = make_clip("good")
    missing = encode_clip(make_clip("missing", seed=1))
    del missing["points.npy"]
    shapes = encode_clip(make_clip("shapes", seed=2))
    shapes["visible.npy"] = _npy(np.ones((4, 39), bool))  # N = 40 elsewhere
    _write_raw_shard(tmp_path, [("good", encode_clip(good)), ("missing", missing), ("shapes", shapes)])
    with caplog.at_level(logging.ERROR):
        ds = ArchiveDataset(tmp_path)
        keys = [c.key for c in ds]
    assert keys == ["good"] and ds.skipped["clips"] == 2
    assert "missing field 'points.npy'" in caplog.text
    assert "visible has shape (4, 39), expected (4, 40)" in caplog.text
    report = check_archive(tmp_path)
    assert {p.clip for p in report.problems} == {"missing", "shapes"}
    assert run_cli(["data", "check", str(tmp_path)]) == 1
    assert "clip missing" in capsys.readouterr().out


def test_clip_check_errors_name_the_clip():
    clip = make_clip("x")
    from dataclasses import replace

    with pytest.raises(ClipError, match=r"clip 'x': q has shape \(4, 7\), expected \(4, 8\)"):
        replace(clip, q=clip.q[:, :7]).check()
    with pytest.raises(ClipError, match="colors has shape"):
        replace(clip, colors=clip.colors[:5]).check()
    with pytest.raises(ClipError, match="NaN"):
        pts = clip.points.copy()
        pts[1, 0, 0] = np.nan
        replace(clip, points=pts).check()


def test_unknown_robot_gives_clear_error(tmp_path):
    clip = make_clip("r", robot="no_such_robot")
    with pytest.raises(ClipError, match=r"clip 'r': robot 'no_such_robot': unknown robot"):
        clip_to_sample(clip)
    write_archive(tmp_path, [clip, make_clip("ok", seed=1)])
    report = check_archive(tmp_path)
    assert [p.clip for p in report.problems] == ["r"] and "unknown robot" in report.problems[0].message
    # As a training transform: the bad clip is skipped, the good one is used.
    ds = ArchiveDataset(tmp_path, transform=clip_to_sample)
    samples = list(ds)
    assert [s.key for s in samples] == ["ok"] and ds.skipped["clips"] == 1
    assert samples[0].robot_points.shape == (4, 500, 3)


def test_writer_resume_and_config_guard(tmp_path):
    w = ArchiveWriter(tmp_path, {"seed": 1})
    w.write_shard(0, [make_clip("a")])
    w.write_shard(1, [make_clip("b", seed=1)])
    (tmp_path / "shard-000001.tar").unlink()
    assert ArchiveWriter(tmp_path, {"seed": 1}).completed() == {0}
    with pytest.raises(ArchiveError, match="another config"):
        ArchiveWriter(tmp_path, {"seed": 2})
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_not_an_archive(tmp_path, capsys):
    with pytest.raises(ArchiveError, match="no manifest.json"):
        read_manifest(tmp_path)
    assert run_cli(["data", "check", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_check_ok_and_info(small_archive, capsys):
    manifest, _ = small_archive
    assert check_archive(manifest.root).ok
    assert run_cli(["data", "check", str(manifest.root)]) == 0
    assert "OK" in capsys.readouterr().out
    assert run_cli(["data", "info", str(manifest.root)]) == 0
    assert "clips:    5" in capsys.readouterr().out
